"""``python -m musicagent`` runs the command line, for environments without the console script."""

import sys

from .cli import main

sys.exit(main())
