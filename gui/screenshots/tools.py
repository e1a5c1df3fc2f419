"""What the ``gui/*_screenshot.py`` scripts share: a main window with throw-away settings
that fills a virtual screen, and a capture of the root window.

Run the scripts under a virtual X server, e.g.::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m ratescope.gui.screenshots.align docs/screenshot_align.png
"""

from __future__ import annotations

import subprocess
import sys
import tempfile


def screenshot_window(width: int | None = None, height: int | None = None):
    """``(app, window, scratch)``: a shown :class:`~gui.shell.main_window.MainWindow` at the
    top-left of the screen with settings in the temporary folder ``scratch`` (keep a
    reference to it), headless dialogs, and an error dialog that ends the run with exit
    code 1. The size is ``width`` x ``height``, else ``$RATESCOPE_SCREEN`` (``"1366x768"``),
    else 1600 x 1000."""
    import os

    from PySide6 import QtCore

    if width is None or height is None:
        width, height = (int(v) for v in os.environ.get("RATESCOPE_SCREEN", "1600x1000").split("x"))
    from ratescope.gui.app import create_application
    from ratescope.gui.shell.dialogs import HeadlessDialogs
    from ratescope.gui.shell.main_window import MainWindow

    app = create_application()
    scratch = tempfile.TemporaryDirectory()
    settings = QtCore.QSettings(f"{scratch.name}/s.ini", QtCore.QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, dialogs=HeadlessDialogs())
    win.setGeometry(0, 0, width, height)
    win.show()
    win.dialogs.show_error = lambda *a: (print("ERROR", a[1:], file=sys.stderr), app.exit(1))
    QtCore.QTimer.singleShot(300_000, lambda: app.exit(1))  # never hang a docs build
    return app, win, scratch


def run_until_captured(app, win) -> int:
    """Run the event loop until :func:`capture` (or an error) ends it, then wait for the
    window's background work as quitting the app does; the exit code."""
    from ratescope.gui.app import finish_background

    code = app.exec()
    finish_background(win)
    return code


def capture(app, win, out: str, colours: int | None = 256) -> None:
    """Repaint, grab the root window into ``out`` with ImageMagick's ``import`` and end
    the event loop with exit code 0. ``colours``: reduce to that many colours without
    dither (about a third of the size, text stays crisp); None keeps full colour."""
    win.repaint()
    app.processEvents()
    subprocess.run(["/usr/bin/import", "-window", "root", out], check=True)
    if colours:
        subprocess.run(["convert", out, "-strip", "-dither", "None", "-colors", str(colours),
                        f"PNG8:{out}"], check=True)  # fmt: skip
    app.exit(0)


def capture_prediction(app, win, path, out: str, before_capture=None) -> int:
    """Open ``path``, accept the automatic alignment, and once the prediction is complete
    call ``before_capture()`` (optional) and capture ``out``; the exit code (background
    work is waited for, as quitting does)."""
    from PySide6 import QtCore

    def predicted(p) -> None:
        if p is not None and p.complete:
            if before_capture is not None:
                before_capture()
            QtCore.QTimer.singleShot(1500, lambda: capture(app, win, out))

    def aligned(_a) -> None:
        if win.alignment.accepted is None:
            QtCore.QTimer.singleShot(300, win.alignment.accept)

    win.alignment.alignment_changed.connect(aligned)
    win.prediction.prediction_changed.connect(predicted)
    win.first_painted.connect(lambda: win.open_path(path))
    return run_until_captured(app, win)
