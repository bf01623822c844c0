import sys

from asdcore.cli import main

sys.exit(main())
