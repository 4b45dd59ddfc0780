from singer_bridge.cli import main

main()
