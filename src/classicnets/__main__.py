from classicnets.cli.main import main

raise SystemExit(main())
