"""Screenshot of the 3D workspace with the bundled sample volume (for ``docs/``).

Run under a virtual X server, e.g.::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m ratescope.gui.screenshots.volume docs/screenshot_3d.png \\
            [--model CAE.safetensors] [--stretch]

The window fills the 1600 x 1000 screen, opens ``resources/samples/sample_volume.h5``,
waits for the reconstruction, steps to slice 18 and captures the root window with
ImageMagick's ``import``.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--model", help="CAE weights (default: the embedded model)")
    parser.add_argument("--slice", type=int, default=17, help="slice to show (0-based)")
    parser.add_argument("--stretch", action="store_true", help="stretch the reconstruction")
    args = parser.parse_args(argv)

    from PySide6 import QtCore

    from ratescope.core.resources import SAMPLES
    from ratescope.gui.screenshots.tools import capture, run_until_captured, screenshot_window

    app, win, _scratch = screenshot_window()
    win.volume_page.model_path = args.model
    ws = win.volume_page.workspace
    ws.stretch_box.setChecked(args.stretch)
    done = []

    def shown(_z0: int) -> None:
        if not done:
            done.append(True)
            QtCore.QTimer.singleShot(200, lambda: ws.set_slice(args.slice))
            QtCore.QTimer.singleShot(3000, lambda: capture(app, win, args.out, None))

    ws.block_shown.connect(shown)
    win.volume_page.open(SAMPLES / "sample_volume.h5")
    return run_until_captured(app, win)


if __name__ == "__main__":
    sys.exit(main())
