"""Entry point of `python -m berth.zygote`."""

import sys

from berth.zygote.server import main

sys.exit(main(sys.argv[1:]))
