"""Screenshot of the 3D workspace with the bundled sample volume (for ``docs/``).

Run under a virtual X server, e.g.::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m gui.volume_screenshot docs/screenshot_3d.png [--model CAE.safetensors]

The window fills the 1600 x 1000 screen, opens ``resources/samples/sample_volume.h5``,
waits for the reconstruction, steps to slice 18 and captures the root window with
ImageMagick's ``import``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--model", help="CAE weights (default: the embedded model)")
    parser.add_argument("--slice", type=int, default=17, help="slice to show (0-based)")
    args = parser.parse_args(argv)

    from PySide6 import QtCore

    from core.resources import SAMPLES
    from gui.app import create_application
    from gui.dialogs import HeadlessDialogs
    from gui.main_window import MainWindow

    app = create_application()
    scratch = tempfile.TemporaryDirectory()
    settings = QtCore.QSettings(f"{scratch.name}/s.ini", QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, dialogs=HeadlessDialogs())
    win.volume_page.model_path = args.model
    win.setGeometry(0, 0, 1600, 1000)
    win.show()
    ws = win.volume_page.workspace
    done = []

    def capture() -> None:
        win.repaint()
        app.processEvents()
        subprocess.run(["/usr/bin/import", "-window", "root", args.out], check=True)
        app.exit(0)

    def shown(_z0: int) -> None:
        if not done:
            done.append(True)
            QtCore.QTimer.singleShot(200, lambda: ws.set_slice(args.slice))
            QtCore.QTimer.singleShot(3000, capture)

    ws.block_shown.connect(shown)
    win.dialogs.show_error = lambda *a: (print("ERROR", a[1:], file=sys.stderr), app.exit(1))
    win.volume_page.open(SAMPLES / "sample_volume.h5")
    QtCore.QTimer.singleShot(180_000, lambda: app.exit(1))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
