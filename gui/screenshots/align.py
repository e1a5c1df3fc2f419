"""Screenshot of the alignment view on the bundled sample (for ``docs/``).

Run under a virtual X server, e.g.::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m ratescope.gui.screenshots.align docs/screenshot_align.png

Opens the sample mosaic, waits for the automatic alignment (collector, surface, tiles
with their keep/reject decisions) and captures the window before Accept.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    args = parser.parse_args(argv)

    from PySide6 import QtCore

    from ratescope.core.resources import SAMPLE_MOSAIC
    from ratescope.gui.screenshots.tools import capture, run_until_captured, screenshot_window

    app, win, _scratch = screenshot_window()
    done = []

    def aligned(a) -> None:
        if a is not None and not done:
            done.append(True)
            QtCore.QTimer.singleShot(1500, lambda: capture(app, win, args.out))

    win.alignment.alignment_changed.connect(aligned)
    win.first_painted.connect(lambda: win.open_path(SAMPLE_MOSAIC))
    return run_until_captured(app, win)


if __name__ == "__main__":
    sys.exit(main())
