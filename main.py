"""RateScope from a source checkout: the GUI by default, sub-commands for headless use.

    python main.py [FILE]                 start the GUI (optionally opening FILE)
    python main.py --smoke [FILE]         start the GUI, print READY when painted, quit
    python main.py info FILE [--json]     what a file holds
    python main.py bench                  benchmark table (also written as JSON)

The same as the installed ``ratescope`` command and ``python -m ratescope``; each
sub-command lives in its own module of ``cli/`` (``python main.py -h`` lists them).
"""

import sys

from ratescope.cli import launch

if __name__ == "__main__":
    sys.exit(launch())
