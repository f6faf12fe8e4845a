import sys

from calltune.cli import main

sys.exit(main())
