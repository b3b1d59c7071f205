"""Entry point of `python -m berth.shim`."""

import sys

from berth.shim.main import main

sys.exit(main(sys.argv[1:]))
