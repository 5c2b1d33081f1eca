import sys

from engine.interfaces.cli import main

sys.exit(main())
