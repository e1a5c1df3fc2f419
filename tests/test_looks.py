"""Appearance families (core.synth.looks) and the input normalisations that undo them."""

from __future__ import annotations

import numpy as np
import pytest

from ratescope.core.errors import RateScopeError
from ratescope.core.model_input import to_model_image
from ratescope.core.predict.normalise import (
    NORMALISATIONS,
    normalise_tiles,
    normalise_with_stats,
    segment_active,
)
from ratescope.core.synth.looks import FAMILIES, restyle
from ratescope.core.synth.mosaic import generate_mosaic
from ratescope.core.synth.phases import Phase


@pytest.fixture(scope="module")
def section():
    """A flat (untilted) electrode and a 224 x 672 window fully inside its coating."""
    m = generate_mosaic(
        5, porosity=0.35, width=1400, height=800, tilt_deg=0.0, collector_y=600, rgb=False
    )
    rows = np.flatnonzero(np.isin(m.phase, [1, 2, 3, 5]).mean(1) > 0.95)
    r0 = int(rows.min()) + 20
    return m, (slice(r0, r0 + 224), slice(100, 772))


def _look(m, family):
    return m.image if family == "zeiss_bf" else restyle(m.phase, family, 5)[0]


def test_restyle_is_seeded_and_differs_between_families(section):
    m, _ = section
    a, pa = restyle(m.phase, "midgrey_epoxy", 5)
    b, _ = restyle(m.phase, "midgrey_epoxy", 5)
    assert np.array_equal(a, b)
    c, _ = restyle(m.phase, "midgrey_epoxy", 6)
    assert not np.array_equal(a, c)
    means = {f: float(to_model_image(_look(m, f)).mean()) for f in FAMILIES}
    assert len({round(v) for v in means.values()}) >= 5, means
    assert pa.family == "midgrey_epoxy"
    with pytest.raises(ValueError, match="unknown appearance family"):
        restyle(m.phase, "sem", 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_keeps_reflected_light_order(section, family):
    """Foil brightest, NMC brighter than the epoxy-filled pores, at any level and gap."""
    m, _ = section
    g = to_model_image(_look(m, family)).astype(float).mean(-1)
    level = {p: np.median(g[m.phase == p]) for p in (Phase.FOIL, Phase.PARTICLE, Phase.PORE)}
    assert level[Phase.FOIL] > level[Phase.PARTICLE] > level[Phase.PORE], level


def test_midgrey_family_puts_binder_below_the_epoxy(section):
    m, _ = section
    img, look = restyle(m.phase, "midgrey_epoxy", 5)
    assert look.binder < look.pore < look.particle


@pytest.mark.parametrize("family", FAMILIES)
def test_phase_front_end_finds_the_particles_of_every_family(section, family):
    """Otsu on the shading-corrected gray level recovers the active phase (IoU >= 0.9)."""
    m, (rows, cols) = section
    tile = to_model_image(_look(m, family))[rows, cols]
    truth = np.isin(m.phase[rows, cols], [Phase.PARTICLE, Phase.CRACK])
    active, stats = segment_active(tile)
    iou = (active & truth).sum() / (active | truth).sum()
    assert iou > 0.9, (family, iou)
    assert abs(stats.active_fraction - truth.mean()) < 0.04
    assert stats.separability > 0.7


def test_canonical_tiles_of_two_looks_agree(section):
    """Two looks of one microstructure become nearly the same canonical tile."""
    m, (rows, cols) = section
    tiles = [to_model_image(_look(m, f))[rows, cols] for f in ("zeiss_bf", "midgrey_epoxy")]
    a, b = normalise_tiles(np.stack(tiles), "phases")
    assert a.shape == tiles[0].shape and a.dtype == np.uint8
    assert np.mean(np.abs(a.astype(int) - b.astype(int)) < 40) > 0.93
    raw = np.mean(np.abs(tiles[0].astype(int) - tiles[1].astype(int)) < 40)
    assert raw < 0.8  # the looks themselves differ


def test_normalisations_and_their_errors(section):
    m, (rows, cols) = section
    tile = to_model_image(m.image)[rows, cols][None]
    assert normalise_tiles(tile, "none") is tile
    robust = normalise_tiles(tile, "robust")
    assert robust.shape == tile.shape and np.median(robust) == pytest.approx(0.30 * 255, abs=3)
    out, stats = normalise_with_stats(tile, "phases")
    assert out.shape == tile.shape and len(stats) == 1
    assert set(NORMALISATIONS) == {"none", "robust", "phases"}
    with pytest.raises(RateScopeError, match="unknown input normalisation"):
        normalise_tiles(tile, "histogram")


def test_noise_is_not_separable_like_an_electrode():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (224, 672, 3), dtype=np.uint8)
    _, stats = segment_active(noise)
    assert stats.separability < 0.7


def test_jpeg_without_imagecodecs_gives_the_same_pixels(section, monkeypatch):
    """A training machine with Pillow but no imagecodecs renders the same data set."""
    import sys

    from ratescope.core.synth.looks import jpeg_roundtrip

    m, _ = section
    gray = m.image if m.image.ndim == 2 else m.image[..., 0]
    rgb = restyle(m.phase, "colour_cast", 3)[0]
    rgb8 = rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8)
    with_codecs = [jpeg_roundtrip(img, q) for img, q in ((gray, 35), (rgb8, 80))]
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import raises ImportError
    with_pillow = [jpeg_roundtrip(img, q) for img, q in ((gray, 35), (rgb8, 80))]
    for a, b, img in zip(with_codecs, with_pillow, (gray, rgb8), strict=True):
        assert a.shape == img.shape and not np.array_equal(a, img)  # it was compressed
        assert np.array_equal(a, b)


def test_bench_series_give_every_family_its_own_microstructures():
    """The looks bench's porosity series: every family and draw its own mosaic seeds (two
    families once shared one series through a name-length offset), each draw all ten
    porosity levels, none of them a training electrode's seed."""
    from ratescope.core.bench.looks import DRAWS, LEVELS, PER_FAMILY, PORS, series_seeds
    from ratescope.core.train.synthetic.dataset import plan_electrodes, plan_looks

    seeds, levels = [], set()
    for family in FAMILIES:
        s = series_seeds(family)
        assert len(s) == PER_FAMILY == DRAWS * LEVELS
        for d in range(DRAWS):
            por = [p for p, _ in s[d * LEVELS : (d + 1) * LEVELS]]
            assert np.allclose(por, np.linspace(*PORS, LEVELS))
            levels |= set(np.round(por, 6))
        seeds += [seed for _, seed in s]
    assert len(set(seeds)) == len(seeds) == len(FAMILIES) * PER_FAMILY
    assert len(levels) == LEVELS
    training = {e.seed for e in plan_electrodes() + plan_looks()}
    assert not training & set(seeds)
