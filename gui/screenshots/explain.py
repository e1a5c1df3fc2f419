"""Screenshot of the explanation overlay on the bundled sample (for ``docs/``).

Run under a virtual X server, e.g.::

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m ratescope.gui.screenshots.explain docs/screenshot_explain.png [--models DIR]

The window fills the 1600 x 1000 screen, opens the sample mosaic, accepts the automatic
alignment, computes the occlusion map of one kept tile with the ensemble of ``--models``
(default: the embedded models; when there are none, an *untrained* 2-fold placeholder
ensemble is written to a temporary folder and the caption must say so) and captures the
root window with ImageMagick's ``import`` (then reduced to 256 colours with ``convert``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def placeholder_models(folder: Path) -> Path:
    """An untrained 2-fold RateCNN ensemble per unit (plausible output scale only)."""
    import numpy as np
    import torch

    from ratescope.core.models.ratecnn import RateCNN
    from ratescope.core.models.store import save_model

    torch.manual_seed(0)
    for unit, scale in (("specific", 1.0), ("volumetric", 2.6)):
        for f in range(2):
            m = RateCNN().eval()
            m.set_normalisation([0.5] * 3, [0.2] * 3,
                                np.array([150.0, 138.0, 126.0, 115.0, 95.0]) * scale,
                                np.full(5, 3.0))  # fmt: skip
            torch.nn.init.normal_(m.output.weight, std=0.3)  # else every map is zero
            save_model(folder / f"{unit}_fold{f}.safetensors", m,
                       {"unit": unit, "fold": f, "synthetic": True,
                        "model": "RateCNN (placeholder, untrained)"})  # fmt: skip
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--models", help="model folder (default: the embedded models)")
    parser.add_argument("--method", default="occlusion", choices=("gradram", "guided",
                                                                  "occlusion"))  # fmt: skip
    parser.add_argument("--tile", type=int, default=1, help="kept tile (0-based)")
    parser.add_argument("--c-rate", type=int, default=4, help="C-rate index (0 = 0.2C)")
    args = parser.parse_args(argv)

    from PySide6 import QtCore

    from ratescope.core.constants import UNITS
    from ratescope.core.resources import MODELS, SAMPLE_MOSAIC
    from ratescope.gui.screenshots.tools import capture, run_until_captured, screenshot_window

    app, win, scratch = screenshot_window()
    models = Path(args.models) if args.models else MODELS
    if not all(any(models.glob(f"{u}_fold*.safetensors")) for u in UNITS):
        print(f"no ensemble in {models}: using an untrained placeholder", file=sys.stderr)
        models = placeholder_models(Path(scratch.name))
    win.prediction.models_dir = models
    ctl = win.explanation

    def tiles_ready() -> None:
        if ctl.tileset is None or win.prediction.ensemble is None:
            QtCore.QTimer.singleShot(200, tiles_ready)
            return
        p = ctl.panel
        p.method_combo.setCurrentIndex(p.method_combo.findData(args.method))
        p.tile_combo.setCurrentIndex(min(args.tile, p.tile_combo.count() - 1))
        p.c_rate_combo.setCurrentIndex(args.c_rate)
        ctl.compute()

    def result(r) -> None:
        if r is not None:
            QtCore.QTimer.singleShot(3000, lambda: capture(app, win, args.out))

    def aligned(_a) -> None:
        if win.alignment.accepted is None:
            QtCore.QTimer.singleShot(300, win.alignment.accept)
            QtCore.QTimer.singleShot(600, tiles_ready)

    ctl.result_changed.connect(result)
    win.alignment.alignment_changed.connect(aligned)
    win.first_painted.connect(lambda: win.open_path(SAMPLE_MOSAIC))
    return run_until_captured(app, win)


if __name__ == "__main__":
    sys.exit(main())
