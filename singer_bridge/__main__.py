from singer_bridge._cli.main import main

main()
