"""Screenshot of the physics cross-check on the bundled sample: the prediction panel
with the physics curves, column and verdict, and the measured phases drawn on the mosaic.

    RATESCOPE_SCREEN=1920x1080 xvfb-run -a -s "-screen 0 1920x1080x24" \\
        python -m ratescope.gui.screenshots.physics docs/screens/physics_1920x1080.png
"""

from __future__ import annotations

import sys

from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.gui.screenshots.tools import capture_prediction, screenshot_window


def main(out: str) -> int:
    app, win, _scratch = screenshot_window()

    def show_phases() -> None:
        win.prediction.panel.phases_check.setChecked(True)

    return capture_prediction(app, win, SAMPLE_MOSAIC, out, show_phases)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
