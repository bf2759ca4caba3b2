from fedledger.cli import main

main()
