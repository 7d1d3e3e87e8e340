"""`python -m crashfix` is the `crashfix` command."""

import sys

from crashfix.cli import main

sys.exit(main())
