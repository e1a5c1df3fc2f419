"""The synthetic MosaiX generator: determinism, formats, and ground truth that matches the
pixels (phase map and image) it comes with."""

import json
import math
from functools import cache

import numpy as np
import pytest

from ratescope.core.electrode import FOIL_THICKNESS_UM, active_volume_fraction, coating_thickness_um
from ratescope.core.synth.mosaic import generate_mosaic
from ratescope.core.synth.phases import Phase

PX_UM = 0.123
H, W = 900, 1200
COATING = [Phase.PARTICLE, Phase.BINDER, Phase.PORE, Phase.CRACK]


@cache
def mosaic(seed=1, **kw):
    return generate_mosaic(seed, height=H, width=W, **kw)


def _mosaic(seed=1, **kw):
    return mosaic(seed, **{k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()})


def first_row(mask):
    """Per column, the first row where ``mask`` holds (-1 where it never does)."""
    found = mask.any(axis=0)
    return np.where(found, np.argmax(mask, axis=0), -1)


def luminance(image):
    return image @ np.array([0.2126, 0.7152, 0.0722]) if image.ndim == 3 else image.astype(float)


def test_same_seed_same_mosaic_other_seed_other_mosaic():
    a = generate_mosaic(7, height=700, width=700, artefacts=("void",))
    b = generate_mosaic(7, height=700, width=700, artefacts=("void",))
    c = generate_mosaic(8, height=700, width=700, artefacts=("void",))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.phase, b.phase)
    assert json.dumps(a.truth.to_dict()) == json.dumps(b.truth.to_dict())
    assert not np.array_equal(a.phase, c.phase)


@pytest.mark.parametrize(
    "rgb, bit_depth, bits, dtype, top",
    [(False, 8, None, np.uint8, 255), (True, 8, None, np.uint8, 255),
     (False, 16, None, np.uint16, 4095), (True, 16, 16, np.uint16, 65535)],
)  # fmt: skip
def test_shapes_dtypes_and_value_range(rgb, bit_depth, bits, dtype, top):
    m = _mosaic(rgb=rgb, bit_depth=bit_depth, significant_bits=bits)
    assert m.image.shape == ((H, W, 3) if rgb else (H, W))
    assert m.image.dtype == dtype and m.phase.dtype == np.uint8 and m.phase.shape == (H, W)
    assert int(m.image.max()) <= top
    foil = luminance(m.image)[m.phase == Phase.FOIL]
    assert np.median(foil) > 0.7 * top  # the range is used, not a sliver of it


@pytest.mark.parametrize("porosity", [0.2, 0.35, 0.5])
def test_phase_fractions_match_the_electrode(porosity):
    m = _mosaic(3, porosity=porosity, tilt_deg=1.0)
    counts = {p: np.count_nonzero(m.phase == p) for p in COATING}
    coating = sum(counts.values())
    assert counts[Phase.PORE] / coating == pytest.approx(porosity, abs=0.01)
    particle = (counts[Phase.PARTICLE] + counts[Phase.CRACK]) / coating
    assert particle == pytest.approx(active_volume_fraction(porosity), abs=0.015)
    assert m.truth.porosity_measured == pytest.approx(counts[Phase.PORE] / coating, abs=1e-9)


@pytest.mark.parametrize("porosity", [0.2, 0.5])
def test_coating_and_foil_thickness_match_the_electrode_model(porosity):
    m = _mosaic(4, porosity=porosity, tilt_deg=0.0)
    coating = np.isin(m.phase, COATING)
    foil = m.phase == Phase.FOIL
    top, foil_top = first_row(coating), first_row(foil)
    thickness_px = np.mean(foil_top - top)
    assert thickness_px * PX_UM == pytest.approx(coating_thickness_um(porosity), rel=0.01)
    assert m.truth.coating_thickness_px * PX_UM == pytest.approx(coating_thickness_um(porosity))
    assert foil.sum(axis=0).mean() * PX_UM == pytest.approx(FOIL_THICKNESS_UM, abs=0.13)


@pytest.mark.parametrize("tilt", [-4.0, -0.7, 0.0, 2.5])
def test_collector_line_is_the_foil_edge_in_the_phase_map(tilt):
    m = _mosaic(5, tilt_deg=tilt, porosity=0.25)
    foil_top = first_row(m.phase == Phase.FOIL).astype(float)
    x = np.arange(m.phase.shape[1])
    seen = foil_top > 0
    # the edge lies between the last non-foil and the first foil pixel centre
    slope, icpt = np.polyfit(x[seen], foil_top[seen] - 0.5, 1)
    (x0, y0), (x1, y1) = m.truth.collector
    assert (x0, x1) == (0, W - 1)
    tol = 0.1 if abs(tilt) > 0.5 else 0.5  # a level edge cannot be located finer than a row
    assert y0 == pytest.approx(icpt, abs=tol)
    assert y1 == pytest.approx(icpt + slope * (W - 1), abs=tol)
    assert math.degrees(math.atan2(-(y1 - y0), x1 - x0)) == pytest.approx(tilt, abs=1e-9)


def test_positive_tilt_means_the_foil_rises_to_the_right_on_screen():
    m = _mosaic(6, tilt_deg=3.0)
    foil_top = first_row(m.phase == Phase.FOIL)
    assert foil_top[-1] < foil_top[0] - 50  # W * tan(3°) ≈ 63 px higher on the right
    (_, y0), (_, y1) = m.truth.collector
    assert y1 < y0 and m.truth.tilt_deg == 3.0


def test_surface_truth_follows_the_topmost_coating_pixels():
    m = _mosaic(9, tilt_deg=-1.5)
    top = first_row(np.isin(m.phase, COATING)).astype(float) - 0.5
    profile = np.array([np.nan if y is None else y for y in m.truth.surface_profile_y])
    assert np.allclose(profile, top, equal_nan=True)
    assert m.truth.surface_y == pytest.approx(np.nanmean(top))
    (x0, y0), (x1, y1) = m.truth.surface
    (_, c0), (_, c1) = m.truth.collector
    assert y1 - y0 == pytest.approx(c1 - c0)  # parallel to the collector
    assert (y0 + y1) / 2 == pytest.approx(m.truth.surface_y, abs=0.5)
    rough = np.nanstd(top - np.linspace(y0, y1, len(top)))
    assert 3 < rough < 60  # rough: particles stick out, but no spikes


def test_default_position_keeps_the_whole_layer_in_view():
    for seed in range(2):
        m = generate_mosaic(seed, porosity=0.5, rgb=False, height=975, width=1600, noise_level=0)
        assert abs(m.truth.tilt_deg) <= 2.0
        assert np.all(m.phase[0] == Phase.EPOXY) and np.all(m.phase[-1] == Phase.EPOXY)
        assert np.all((m.phase == Phase.FOIL).any(axis=0))


@pytest.mark.parametrize("kind, label", [("void", Phase.VOID), ("scratch", Phase.SCRATCH),
                                         ("bubble", Phase.BUBBLE)])  # fmt: skip
def test_artefacts_are_where_the_truth_says(kind, label):
    clean = _mosaic(11, rgb=False)
    m = _mosaic(11, rgb=False, artefacts=(kind,))
    records = [a for a in m.truth.artefacts if a["type"] == kind]
    assert records and all(a["label"] == label for a in m.truth.artefacts)
    for a in records:
        x0, y0, x1, y1 = a["bbox"]
        assert np.any(m.phase[y0:y1, x0:x1] == label)
    labelled = m.phase == label
    inside = np.zeros_like(labelled)
    for a in records:
        x0, y0, x1, y1 = a["bbox"]
        inside[y0:y1, x0:x1] = True
    assert not np.any(labelled & ~inside)
    assert not np.isin(clean.phase, [Phase.VOID, Phase.SCRATCH, Phase.BUBBLE]).any()
    assert np.array_equal(clean.phase[~labelled], m.phase[~labelled])  # same microstructure
    if kind == "void":  # a pulled-out particle: a hole darker than the epoxy, larger than pores
        assert min(a["area_px"] for a in records) > 1000
        img = m.image.astype(float)
        assert np.median(img[labelled]) < np.median(img[m.phase == Phase.PORE])


def test_image_statistics_foil_brightest_then_particles_epoxy_dark():
    for rgb in (False, True):
        m = _mosaic(12, rgb=rgb)
        lum = luminance(m.image) / 255.0
        med = {
            p: np.median(lum[m.phase == p])
            for p in (Phase.FOIL, Phase.PARTICLE, Phase.BINDER, Phase.PORE, Phase.EPOXY)
        }
        assert med[Phase.FOIL] > 0.75 and med[Phase.EPOXY] < 0.15
        assert med[Phase.FOIL] > med[Phase.PARTICLE] + 0.15
        assert med[Phase.PARTICLE] > med[Phase.BINDER] + 0.25 > med[Phase.PORE] + 0.25
        assert med[Phase.EPOXY] < med[Phase.BINDER]


def test_rgb_has_a_bright_field_colour_cast_and_gray_is_its_luminance():
    colour, gray = _mosaic(13, rgb=True, noise_level=0.0), _mosaic(13, rgb=False, noise_level=0.0)
    particle = colour.image[colour.phase == Phase.PARTICLE].astype(float).mean(axis=0)
    foil = colour.image[colour.phase == Phase.FOIL].astype(float).mean(axis=0)
    assert particle[2] > particle[0] + 5  # NCM grey-blueish
    assert abs(foil[0] - foil[2]) < 0.04 * foil.mean()  # foil near white
    assert np.abs(luminance(colour.image) - gray.image).mean() < 1.0


def test_tiles_cover_the_image_and_show_as_seams():
    m = _mosaic(14, rgb=False, tile_shape=(1030, 480), tile_overlap=0.1, noise_level=0.0)
    tiles = m.truth.tiles
    assert len(tiles) == 3
    covered = np.zeros((H, W), bool)
    for t in tiles:
        covered[max(t["y0"], 0) : t["y1"], max(t["x0"], 0) : t["x1"]] = True
    assert covered.all()
    assert {"row", "col", "x0", "y0", "x1", "y1", "gain"} <= set(tiles[0])


def test_truth_is_json_and_carries_the_parameters():
    m = _mosaic(15, artefacts=("bubble", "scratch", "void"), porosity=0.35)
    d = json.loads(json.dumps(m.truth.to_dict(), allow_nan=False))
    assert d["seed"] == 15 and d["params"]["porosity"] == 0.35
    assert d["params"]["artefacts"] == ["bubble", "scratch", "void"]
    radii = np.array(d["section_radii_um"])
    spheres = np.array(d["sphere_radii_um"])
    assert np.all(radii <= spheres + 1e-6) and 3.5 < np.median(spheres) < 7.5
    assert len(d["surface_profile_y"]) == W and d["phase_labels"]["FOIL"] == 4


def test_bad_arguments_are_refused():
    for kw in ({"porosity": 0.9}, {"tilt_deg": 6.0}, {"bit_depth": 12}, {"artefacts": ["dust"]}):
        with pytest.raises(ValueError):
            generate_mosaic(0, height=300, width=300, **kw)
