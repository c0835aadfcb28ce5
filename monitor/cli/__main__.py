"""`python -m monitor.cli`: the `vigil` command."""

import sys

from monitor.cli.main import main

sys.exit(main())
