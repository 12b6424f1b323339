"""``python -m tracework``: the same command as the installed ``tracework``."""

import sys

from tracework.cli.app import main

sys.exit(main())
