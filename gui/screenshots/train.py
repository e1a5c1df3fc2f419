"""Screenshots of the training wizard (review page, learning curves), for ``docs/``.

    RATESCOPE_SCREEN=1366x768 xvfb-run -a -s "-screen 0 1366x768x24" \\
        python -m ratescope.gui.screenshots.train docs/screens/train_review.png --page review
    RATESCOPE_SCREEN=1366x768 xvfb-run -a -s "-screen 0 1366x768x24" \\
        python -m ratescope.gui.screenshots.train docs/screens/train_curves.png --page curves

A demo lab is written to a temporary folder first (:func:`write_demo_lab`: synthetic
mosaics as TIFF, a measured CSV with a C-rate left out, a row without a mosaic, an
unreadable image and a mosaic without a measurement). ``review`` captures the review
page; ``curves`` starts the real training (``ratescope train --dataset``, dense-head
fine-tuning of the embedded ensemble) and captures the learning curves once the last fold
is done; ``finish`` goes on to the registered model. User models go to a temporary
registry unless ``RATESCOPE_MODELS_DIR`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

DEMO_POROSITIES = (0.21, 0.25, 0.29, 0.33, 0.37, 0.41, 0.45, 0.49)


def lab_look(phase, seed: int):
    """``phase`` (a synthetic mosaic's phase map) painted in the demo lab's appearance: a
    smeared carbon-binder film nearly as bright as the particles, slightly out of focus —
    outside the embedded models' training looks (the ``bright_binder`` look of the tests,
    ``tests/_train_helpers.py``), the case fine-tuning is for."""
    import numpy as np

    from ratescope.core.synth.looks import LookParams, expose_look, paint, reshape_particles

    look = LookParams(family="bright_binder", epoxy=0.08, pore=0.08, binder=0.5,
                      particle=0.6, foil=0.92, grain_spread=0.05, binder_style="film",
                      smear=0.4, blur_px=2.5, pixel_size_um=0.123, noise_level=1.0,
                      rgb=True)  # fmt: skip
    rng = np.random.default_rng([seed, 99])
    phase = phase.copy()
    reshape_particles(phase, look, rng)
    return expose_look(paint(phase, look, rng), look, rng)


def write_demo_lab(folder: str | Path, porosities=DEMO_POROSITIES, size=(640, 2300),
                   seed: int = 11) -> tuple[Path, Path]:  # fmt: skip
    """Write synthetic mosaics (``E<i>.tif``, in :func:`lab_look`) and ``measured.csv``.

    The measured values are the physics labels of each mosaic's porosity
    (:func:`core.labels.label_curve`, Ah/kg) with 1 % noise; ``E2`` has no 5C value, the
    CSV names an electrode ``E12`` that has no mosaic, ``extra.tif`` has no CSV row,
    ``E<n+1>.png`` (in the CSV) holds no electrode, and ``E3.ratescope`` is a saved session
    with E3's confirmed alignment (:func:`confirm_alignment`). Returns ``(folder, csv)``.
    """
    import numpy as np
    import tifffile
    from PIL import Image

    from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM
    from ratescope.core.labels import label_curve
    from ratescope.core.synth.mosaic import generate_mosaic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_cm = 1e4 / DEFAULT_PIXEL_SIZE_UM
    lines = ["sample,unit,0.2C,1C,2C,3C,5C"]
    for i, porosity in enumerate(porosities, start=1):
        tilt = float(rng.uniform(-1.2, 1.2))
        m = generate_mosaic(seed + i, porosity=porosity, height=size[0], width=size[1],
                            tilt_deg=tilt)  # fmt: skip
        image = lab_look(m.phase, seed + i)
        tifffile.imwrite(folder / f"E{i}.tif", image, resolution=(per_cm, per_cm),
                         resolutionunit="CENTIMETER")  # fmt: skip
        curve = label_curve(porosity, m.truth.params["particle_radius_um"], "specific")
        values = [f"{v * (1 + rng.normal(0, 0.01)):.1f}" for v in curve]
        if i == 2:
            values[-1] = ""
        lines.append(f"E{i},Ah/kg," + ",".join(values))
    confirm_alignment(folder / "E3.tif")
    blank = len(porosities) + 1
    lines.append(f"E{blank},Ah/kg,149.0,141.2,133.5,125.9,108.0")
    lines.append("E12,Ah/kg,150.2,140.1,131.0,122.4,101.3")
    (folder / "measured.csv").write_text("\n".join(lines) + "\n")
    extra = generate_mosaic(seed, porosity=0.3, height=size[0], width=size[1])
    tifffile.imwrite(folder / "extra.tif", lab_look(extra.phase, seed), resolution=(per_cm, per_cm),
                     resolutionunit="CENTIMETER")  # fmt: skip
    Image.fromarray(np.full((size[0], size[1], 3), 128, np.uint8)).save(folder / f"E{blank}.png")
    return folder, folder / "measured.csv"


def confirm_alignment(mosaic: Path) -> Path:
    """Save a session beside ``mosaic`` whose accepted alignment has its first kept tile
    turned off, as a user who confirmed it in the window would (the review reuses it)."""
    from ratescope.core.align.band import align_mosaic
    from ratescope.core.io import load_mosaic
    from ratescope.core.session import Session, file_sha256, save_session

    alignment, _ = align_mosaic(load_mosaic(mosaic))
    alignment.tiles[next(i for i, t in enumerate(alignment.tiles) if t.kept)].override = False
    session = Session(source_path=mosaic, source_sha256=file_sha256(mosaic),
                      alignment=alignment, accepted=True)  # fmt: skip
    return save_session(session, mosaic.with_suffix(".ratescope"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--page", choices=["review", "curves", "finish"], default="review")
    args = parser.parse_args(argv)
    scratch = tempfile.TemporaryDirectory()
    os.environ.setdefault("RATESCOPE_MODELS_DIR", str(Path(scratch.name) / "models"))
    folder, csv = write_demo_lab(Path(scratch.name) / "lab")

    from PySide6 import QtCore

    from ratescope.gui.screenshots.tools import run_until_captured, screenshot_window

    app, win, _settings = screenshot_window()

    class Answers:  # the wizard's file questions, answered
        def folder(self, *_a):
            return str(folder)

        def open_path(self, *_a):
            return str(csv)

    def shot(widget) -> None:
        """Save ``widget`` as drawn (the wizard without the window behind it: a virtual X
        server has no window manager to frame it) and end the run."""
        widget.repaint()
        app.processEvents()
        if not widget.grab().save(args.out):
            print(f"could not write {args.out}", file=sys.stderr)
            app.exit(1)
        app.exit(0)

    def later(widget) -> None:
        QtCore.QTimer.singleShot(800, lambda: shot(widget))

    def wizard_geometry(w) -> None:
        screen = win.geometry()
        w.resize(min(1120, screen.width() - 60), min(680, screen.height() - 40))
        w.move(screen.x() + (screen.width() - w.width()) // 2, screen.y() + 16)

    def start() -> None:
        win.models.ask = Answers()
        w = win.models.open_wizard()
        wizard_geometry(w)
        w.data_page.folder_button.click()
        w.data_page.csv_button.click()
        w.next()
        page = w.review_page

        def reviewed() -> None:
            if page.review is None or w.currentId() != w.REVIEW:
                return
            if args.page == "review":
                later(w)
            elif page.isComplete():
                to_training(w)

        page.completeChanged.connect(reviewed)

    def to_training(w) -> None:
        w.next()
        w.settings_page.name_edit.setText("Lab demo (8 electrodes)")
        w.settings_page.folds_spin.setValue(4)
        w.next()

        def state(s: str) -> None:
            if s == "done" and args.page == "curves":
                later(w)
            elif s == "done":
                w.next()
                w.finish_page.completeChanged.connect(lambda: later(w))

        w.train_page.state_changed.connect(state)

    win.first_painted.connect(lambda: QtCore.QTimer.singleShot(500, start))
    code = run_until_captured(app, win)
    scratch.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
