"""Prediction at any pixel size: the mosaic is resampled to the models' 0.123 µm/px.

The same generated electrode (same particles in µm) rendered at 0.08, 0.123 and 0.25
µm/px must give the same curve within the ensemble's spread; before resampling, 0.164
µm/px predicted 5C 26 % low, unflagged. The alignment stays in the mosaic's own pixels.
"""

from pathlib import Path

import numpy as np
import pytest

from ratescope.core.align import Alignment
from ratescope.core.align.band import align_mosaic, model_zoom
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.predict import load_ensemble, predict_mosaic
from ratescope.core.resources import MODELS
from ratescope.core.synth.mosaic import generate_mosaic

pytestmark = pytest.mark.skipif(
    not any(MODELS.glob("specific_fold*.safetensors")), reason="embedded models not present"
)


def _electrode(pixel_size_um: float):
    k = 0.123 / pixel_size_um
    g = generate_mosaic(11, height=int(975 * k), width=int(6300 * k), pixel_size_um=pixel_size_um)
    return g, Mosaic(Path(f"at_{pixel_size_um}.png"), "PNG", [g.image], pixel_size_um, "metadata")


@pytest.fixture(scope="module")
def ensemble():
    return load_ensemble()


@pytest.fixture(scope="module")
def reference(ensemble):
    return predict_mosaic(_electrode(0.123)[1], ensemble)[0]


@pytest.mark.parametrize("pixel_size_um", [0.08, 0.25])
def test_same_electrode_same_curve_at_another_pixel_size(ensemble, reference, pixel_size_um):
    g, mosaic = _electrode(pixel_size_um)
    pred, alignment = predict_mosaic(mosaic, ensemble)
    assert alignment.zoom == pytest.approx(0.123 / pixel_size_um)
    for unit in ("specific", "volumetric"):
        ref, got = reference.units[unit], pred.units[unit]
        spread = np.maximum(np.maximum(ref.std, got.std), 0.01 * ref.mean)
        assert np.all(np.abs(got.mean - ref.mean) <= spread), (unit, got.mean, ref.mean)
    # the lines are in the mosaic's own pixels: the collector where the renderer put it
    (x0, y0), (x1, y1) = g.truth.collector
    c = alignment.collector
    assert abs(c.y0 + (c.y1 - c.y0) * (x0 - c.x0) / (c.x1 - c.x0) - y0) < 3
    assert Alignment.from_json(alignment.to_json()).frame == alignment.frame
    # the coating thickness read from the alignment is the rendered one, in µm
    um = alignment.coating_thickness_px() * pixel_size_um
    assert um == pytest.approx(g.truth.coating_thickness_um, rel=0.05)


def test_pixel_size_at_the_models_needs_no_resampling():
    assert model_zoom(_electrode(0.123)[1]) == 1.0
    g, mosaic = _electrode(0.1231)  # within 0.5 %: used as it is
    assert model_zoom(mosaic) == 1.0
    alignment, working = align_mosaic(mosaic)
    assert working.image.shape == g.image.shape and alignment.zoom == 1.0
