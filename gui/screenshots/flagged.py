"""Screenshot of a flagged prediction: a section whose coating is not an electrode's.

    QT_QPA_PLATFORM=xcb xvfb-run -s "-screen 0 1600x1000x24" \\
        python -m ratescope.gui.screenshots.flagged docs/screenshot_flagged.png

The mosaic has mounting epoxy and a bright aluminium foil where an electrode's are (so the
alignment finds the layer), but its coating is a photograph (scikit-image's "camera man"
and "coffee") with the contrast of a micrograph instead of particles and pores: the
out-of-distribution check must flag it, and the window shows the curve grey and dashed,
"not a result", with the reason in words.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ratescope.gui.screenshots.tools import capture_prediction, screenshot_window


def foreign_section(path: Path, seed: int = 4) -> Path:
    """Write a cross-section with a photograph in place of its coating (PNG) to ``path``."""
    import imagecodecs
    from skimage import data
    from skimage.color import rgb2gray

    from ratescope.core.synth.mosaic import generate_mosaic
    from ratescope.core.synth.phases import COATING_PHASES

    m = generate_mosaic(seed, porosity=0.35, width=3000, rgb=False)
    photo = np.hstack([data.camera()[:400], rgb2gray(data.coffee()) * 255])
    photo = photo.astype(np.float32) / 255.0
    h, w = m.phase.shape
    texture = np.tile(photo, (h // photo.shape[0] + 1, w // photo.shape[1] + 1))[:h, :w]
    img = m.image.astype(np.float32) / 255.0
    coating = np.isin(m.phase, COATING_PHASES)
    img[coating] = 0.25 + 0.45 * texture[coating]
    path.write_bytes(imagecodecs.png_encode((img * 255).astype(np.uint8)))
    return path


def main(out: str) -> int:
    app, win, scratch = screenshot_window()
    path = foreign_section(Path(scratch.name) / "photograph_in_epoxy.png")

    return capture_prediction(app, win, path, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
