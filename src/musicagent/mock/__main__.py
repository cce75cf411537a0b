"""``python -m musicagent.mock``."""

import sys

from ..cli.mock import main

sys.exit(main())
