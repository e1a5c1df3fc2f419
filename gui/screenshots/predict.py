"""Screenshot of the prediction panel on the bundled sample, for the README.

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \
        python -m ratescope.gui.screenshots.predict docs/screenshot_predict.png

The "measured" markers are the physics labels of the sample's ground truth (porosity
and particle radius from ``sample_mosaic.json``), i.e. what a perfect model would say.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ratescope.core.constants import C_RATES
from ratescope.core.labels import label_curve
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.gui.screenshots.tools import capture_prediction, screenshot_window


def main(out: str) -> int:
    app, win, scratch = screenshot_window()
    tmp = Path(scratch.name)
    truth = json.loads(SAMPLE_MOSAIC.with_suffix(".json").read_text())["params"]
    rows = ["c_rate,capacity,unit"]
    for unit, symbol in (("specific", "Ah/kg"), ("volumetric", "Ah/L")):
        curve = label_curve(truth["porosity"], truth["particle_radius_um"], unit)
        rows += [f"{c},{v:.1f},{symbol}" for c, v in zip(C_RATES, curve, strict=True)]
    measured = tmp / "sample_physics_labels.csv"
    measured.write_text("\n".join(rows) + "\n")

    return capture_prediction(
        app, win, SAMPLE_MOSAIC, out, lambda: win.prediction.measured_editor.load(measured)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
