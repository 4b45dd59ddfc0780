from singer_bridge.cli.main import main

main()
