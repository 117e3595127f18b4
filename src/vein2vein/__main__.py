from vein2vein.cli import main

main()
