"""Screenshot of the 3D workspace with the bundled sample volume (for ``docs/``).

Run under a virtual X server, e.g.::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m ratescope.gui.screenshots.volume docs/screenshot_3d.png \\
            [--model CAE.safetensors] [--stretch] [--panels [--tab metrics]]

The window fills the 1600 x 1000 screen, opens ``resources/samples/sample_volume.h5``,
waits for the reconstruction, steps to slice 18 and captures the root window with
ImageMagick's ``import``; with ``--panels`` once the Microstructure and Latent features
panels are filled as well.
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
    parser.add_argument("--panels", action="store_true",
                        help="also show the Microstructure and Latent features panels")  # fmt: skip
    parser.add_argument("--tab", choices=["latents", "metrics"], default="latents",
                        help="with --panels: the tab in front")  # fmt: skip
    args = parser.parse_args(argv)

    from PySide6 import QtCore

    from ratescope.core.resources import SAMPLES
    from ratescope.gui.screenshots.tools import capture, run_until_captured, screenshot_window

    app, win, _scratch = screenshot_window()
    win.volume_page.model_path = args.model
    ws = win.volume_page.workspace
    ws.stretch_box.setChecked(args.stretch)
    done = []

    def ready() -> bool:
        if not args.panels:
            return True
        return ws.metrics.result is not None and ws.latents.points is not None

    def wait_then_capture() -> None:
        if ready():
            if args.panels:
                front = ws.latents if args.tab == "latents" else ws.metrics
                ws.analysis.setCurrentWidget(front.panel)
            QtCore.QTimer.singleShot(1500, lambda: capture(app, win, args.out, None))
        else:
            QtCore.QTimer.singleShot(500, wait_then_capture)

    def shown(_z0: int) -> None:
        if not done:
            done.append(True)
            QtCore.QTimer.singleShot(200, lambda: ws.set_slice(args.slice))
            if args.panels:
                ws.metrics_box.setChecked(True)
                ws.latent_box.setChecked(True)
            QtCore.QTimer.singleShot(3000, wait_then_capture)

    ws.block_shown.connect(shown)
    win.volume_page.open(SAMPLES / "sample_volume.h5")
    return run_until_captured(app, win)


if __name__ == "__main__":
    sys.exit(main())
