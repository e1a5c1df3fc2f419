"""Alignment finds the coating wherever it sits in a tall mosaic (generated, with truth),
and refuses an image whose only coating-like band is far from the collector."""

from __future__ import annotations

import pytest

from ratescope.core.align import align
from ratescope.core.bench.align import evaluate
from ratescope.core.errors import RateScopeError
from ratescope.core.synth.mosaic import generate_mosaic


@pytest.mark.parametrize(
    ("height", "collector_y"),
    [(975, None), (6000, 5000), (6000, 1200)],  # standard; epoxy far above; far below
)
def test_surface_found_whatever_the_epoxy_around_it(height, collector_y):
    m = generate_mosaic(5, height=height, width=1500, tilt_deg=0.5, collector_y=collector_y)
    a = align(m.image)
    assert abs(a.surface.mean_y - m.truth.surface_y) <= 20
    scores = evaluate(m, a)  # the benchmark's judge: tiles against the true phase map
    assert scores["kept"] >= 1 and scores["kept_layer"] == 0  # no kept tile in epoxy/foil


def test_a_band_far_above_the_collector_is_not_taken_for_the_coating():
    """The coating lifted 3000 px away from the foil: epoxy next to the collector."""
    m = generate_mosaic(5, height=6000, width=1500, tilt_deg=0.0, collector_y=5000)
    img = m.image.copy()
    top, foil = int(m.truth.surface_y) - 40, 5000 - 4
    band = img[top:foil].copy()
    img[top:foil] = img[40 : 40 + (foil - top)]  # epoxy from the top of the mosaic
    img[top - 3000 : foil - 3000] = band
    with pytest.raises(RateScopeError, match="no coating found next to the collector"):
        align(img)
