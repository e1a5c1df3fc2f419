"""Screenshot of the model manager (Models ▸ Manage models…), for ``docs/``.

    RATESCOPE_SCREEN=1366x768 xvfb-run -a -s "-screen 0 1366x768x24" \\
        python -m ratescope.gui.screenshots.models docs/screens/models.png

A demo lab (:func:`gui.screenshots.train.write_demo_lab`) is trained first with the real
command (``ratescope train --mosaics … --measured …``, dense-head fine-tuning of the
embedded ensemble, 4 folds by electrode), registered and activated in a temporary model
registry; the manager then shows it beside the embedded model, its card selected.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def train_demo_model(root: Path) -> Path:
    """Write the demo lab under ``root`` and train it; the run's output folder."""
    from ratescope.gui.screenshots.train import write_demo_lab

    folder, csv = write_demo_lab(root / "lab")
    out = root / "run"
    subprocess.run(
        [sys.executable, "-m", "ratescope", "train", "--mosaics", str(folder), "--measured",
         str(csv), "--folds", "4", "--out", str(out), "--name", "Lab demo (8 electrodes)"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    args = parser.parse_args(argv)
    scratch = tempfile.TemporaryDirectory()
    root = Path(scratch.name)
    os.environ["RATESCOPE_MODELS_DIR"] = str(root / "models")
    run = train_demo_model(root)

    from PySide6 import QtCore

    from ratescope.core.models.registry import Registry
    from ratescope.gui.screenshots.tools import run_until_captured, screenshot_window

    entry = Registry().add(run, "Lab demo (8 electrodes)")
    Registry().activate(entry.id)
    app, win, _settings = screenshot_window()

    def shot(widget) -> None:
        widget.repaint()
        app.processEvents()
        ok = widget.grab().save(args.out)
        app.exit(0 if ok else 1)

    def start() -> None:
        manager = win.models.open_manager()
        screen = win.geometry()
        manager.resize(min(1180, screen.width() - 60), min(440, screen.height() - 80))

        def listed() -> None:
            if manager.entries and not win.runner.busy:
                poll.stop()
                manager.select(entry.id)
                QtCore.QTimer.singleShot(600, lambda: shot(manager))

        poll = QtCore.QTimer(manager, interval=200, timeout=listed)
        poll.start()

    win.first_painted.connect(lambda: QtCore.QTimer.singleShot(500, start))
    code = run_until_captured(app, win)
    scratch.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
