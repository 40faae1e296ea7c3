from megamath.cli.main import main

main()
