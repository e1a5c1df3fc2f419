"""Drive the real window through open -> align -> accept -> predict on one file, headless.

``python -m ratescope.gui.probe FILE`` prints one JSON line: the seconds each step took,
the tiles kept, the 0.2C prediction and the process's peak resident memory (``VmHWM``).
The memory benchmark runs it on its 20 000 x 60 000 px mosaic; it is also a quick way to
see how the GUI copes with a user's file without a display.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable

from PySide6 import QtCore


def _wait(app, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not finish within {timeout_s:.0f} s")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def peak_rss_kb() -> int | None:
    """``VmHWM`` of this process in kB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None


def probe(path: str, timeout_s: float = 900.0) -> dict:
    """Open ``path`` in a fresh window, accept the automatic alignment, predict."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ratescope.gui import threads
    from ratescope.gui.app import create_application
    from ratescope.gui.shell.dialogs import HeadlessDialogs
    from ratescope.gui.shell.main_window import MainWindow

    app = create_application([sys.argv[0]])
    ini = os.path.join(tempfile.mkdtemp(prefix="ratescope-probe-"), "settings.ini")
    settings = QtCore.QSettings(ini, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, dialogs=HeadlessDialogs())
    window.resize(1400, 900)
    window.show()
    out: dict = {"file": path}
    t0 = time.perf_counter()
    ctl = window.prediction
    _wait(app, lambda: ctl.ensemble is not None or ctl.load_error is not None, timeout_s,
          "loading the models")  # fmt: skip
    out["models_s"] = round(time.perf_counter() - t0, 2)
    landed: list = []
    window.alignment.alignment_changed.connect(landed.append)
    t0 = time.perf_counter()
    window.open_path(path)
    errors = window.dialogs.errors
    _wait(app, lambda: bool(landed) or bool(errors), timeout_s, "alignment")
    _wait(app, lambda: not window.alignment.working(), timeout_s, "alignment")
    out["align_s"] = round(time.perf_counter() - t0, 2)
    alignment = window.alignment.alignment
    out["tiles_kept"] = len(alignment.kept) if alignment is not None else None
    if alignment is not None and alignment.kept and ctl.ensemble is not None:
        t0 = time.perf_counter()
        window.alignment.accept()
        _wait(app, lambda: ctl.prediction is not None and ctl.prediction.complete
              and not ctl.working(), timeout_s, "prediction")  # fmt: skip
        out["predict_s"] = round(time.perf_counter() - t0, 2)
        out["specific_0.2C"] = round(float(ctl.prediction.units["specific"].mean[0]), 2)
    out["errors"] = list(window.dialogs.errors)
    out["peak_rss_mb"] = (peak_rss_kb() or 0) / 1024
    window.runner.cancel_all()
    _wait(app, lambda: not threads.running(), timeout_s, "background work")
    window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ratescope.gui.probe FILE", file=sys.stderr)
        return 2
    print(json.dumps(probe(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
