"""``python -m ratescope``: the same as the ``ratescope`` command and ``main.py``."""

import sys

from ratescope.cli import launch

sys.exit(launch())
