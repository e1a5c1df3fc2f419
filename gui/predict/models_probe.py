"""Start the window as ``run_gui`` does, print MODELS once the ensemble has loaded, quit.

Used by the start-up benchmark (``core/bench/startup.py``)::

    python -m ratescope.gui.predict.models_probe SETTINGS.ini
"""

from __future__ import annotations

import sys

from PySide6 import QtCore

from ratescope.gui.app import create_application, finish_background


def main(settings_path: str) -> int:
    app = create_application()
    from ratescope.gui.shell.dialogs import (
        HeadlessDialogs,  # after the application, as run_gui does
    )
    from ratescope.gui.shell.main_window import MainWindow

    settings = QtCore.QSettings(settings_path, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, dialogs=HeadlessDialogs())

    def loaded(_ensemble) -> None:
        print("MODELS", flush=True)
        QtCore.QTimer.singleShot(0, lambda: app.exit(0))

    def check() -> None:
        if window.prediction.load_error is not None:
            print("ERROR", window.prediction.load_error, flush=True)
            app.exit(1)

    window.prediction.models_loaded.connect(loaded)
    poll = QtCore.QTimer(interval=50, timeout=check)
    poll.start()
    window.show()
    code = app.exec()
    finish_background(window)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
