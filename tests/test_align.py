"""core.align on generated mosaics: accuracy (looser than the benchmark), geometry,
reproducibility from JSON, user edits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ratescope.core.align import (
    Alignment,
    CollectorLine,
    Frame,
    Surface,
    align,
    detect_collector,
    extract_tiles,
    largest_rectangle,
    straighten,
)
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH
from ratescope.core.synth.mosaic import generate_mosaic
from ratescope.core.synth.phases import Phase


@pytest.fixture(scope="module")
def mosaic():
    return generate_mosaic(
        11, porosity=0.3, tilt_deg=-3.2, width=2800, rgb=True, bit_depth=8, artefacts=("void",)
    )


@pytest.fixture(scope="module")
def result(mosaic):
    return align(mosaic.image)


def _truth_y(truth, x):
    (x0, y0), (x1, y1) = truth.collector
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def test_collector_matches_ground_truth(mosaic, result):
    t = mosaic.truth
    assert abs(result.angle_deg - t.tilt_deg) < 0.1
    for x in (0.0, 1400.0, 2799.0):
        assert abs(result.collector.y_at(x) - _truth_y(t, x)) < 3
    assert result.collector.coating_above
    assert 0.5 < result.collector.confidence <= 1


def test_surface_mean_height(mosaic, result):
    prof = np.array([np.nan if v is None else v for v in mosaic.truth.surface_profile_y])
    cols = np.flatnonzero(np.isfinite(prof))
    assert abs(np.mean(result.surface.y_at(cols)) - np.nanmean(prof)) < 8


def test_kept_tiles_hold_only_coating(mosaic, result):
    assert len(result.kept) >= 1 and len(result.tiles) >= 3
    for t in result.tiles:
        assert t.rect[2:] == (TILE_HEIGHT, TILE_WIDTH)
        assert (t.reason is None) == t.auto_keep
    for t in result.kept:
        top, left, h, w = t.rect
        ph = straighten(
            mosaic.phase,
            result.frame,
            rows=(top, top + h),
            cols=(left, left + w),
            order=0,
            cval=int(Phase.EPOXY),
        )
        assert not np.isin(ph, (Phase.FOIL, Phase.EPOXY, Phase.VOID)).any()


def test_void_tile_rejected(mosaic, result):
    for t in result.tiles:
        top, left, h, w = t.rect
        ph = straighten(
            mosaic.phase, result.frame, rows=(top, top + h), cols=(left, left + w), order=0
        )
        if (ph == Phase.VOID).sum() > 500:
            assert not t.kept and t.reason in ("void", "epoxy", "scratch")


def test_flipped_image_is_found_and_straightened_coating_up(mosaic, result):
    flipped = np.ascontiguousarray(mosaic.image[::-1])
    line = detect_collector(flipped)
    h = flipped.shape[0]
    assert not line.coating_above
    assert abs(line.y0 - (h - 1 - result.collector.y0)) < 1.5
    assert abs(line.angle_deg + result.angle_deg) < 0.05
    a = align(flipped)
    # the straightened views agree: the flip is undone
    assert a.rect is not None and abs(a.rect.top - result.rect.top) <= 8


def test_json_round_trip_reproduces_tiles(mosaic, result):
    again = Alignment.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    a, b = extract_tiles(mosaic.image, result), extract_tiles(mosaic.image, again)
    assert a.shape == (len(result.kept), TILE_HEIGHT, TILE_WIDTH, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    d = result.to_dict()
    (x0, y0), (x1, y1) = d["collector"]
    assert d["angle_deg"] == pytest.approx(math.degrees(math.atan2(-(y1 - y0), x1 - x0)))


def test_edited_collector_changes_angle_and_tiles(mosaic, result):
    c = result.collector
    edited = CollectorLine(c.x0, c.y0 - 30, c.x1, c.y1 + 30)
    again = align(mosaic.image, collector=edited)
    assert again.angle_deg < result.angle_deg - 1
    assert [t.rect for t in again.tiles] != [t.rect for t in result.tiles]
    # a surface line dragged down shrinks the usable band
    s = result.surface
    lower = Surface(s.x0, s.y0 + 60, s.x1, s.y1 + 60, s.xs, s.depth)
    shrunk = align(mosaic.image, collector=c, surface=lower)
    assert shrunk.rect is None or shrunk.rect.height < result.rect.height


def test_user_override_is_kept_and_serialised(mosaic, result):
    again = Alignment.from_json(result.to_json())
    again.tiles[0].override = not again.tiles[0].auto_keep
    assert again.tiles[0].kept != result.tiles[0].kept
    back = Alignment.from_json(again.to_json())
    assert back.tiles[0].kept == again.tiles[0].kept
    assert len(extract_tiles(mosaic.image, back)) == len(back.kept)


def test_frame_round_trip_and_valid_rows():
    line = CollectorLine(0, 700, 2999, 560)
    f = Frame.from_line(line, (900, 3000))
    x, y = np.array([0.0, 1234.5, 2999]), np.array([3.0, 450.0, 899])
    u, v = f.to_straight(x, y)
    np.testing.assert_allclose(f.to_source(u, v), (x, y), atol=1e-9)
    assert f.to_straight(line.x1, line.y1)[1] == pytest.approx(f.collector_row(line))
    uu = np.array([10.0, 1500.0, 2990.0])
    vmin, vmax = f.valid_rows(uu)
    for k in range(3):
        for vv, inside in (
            (vmin[k] + 0.01, True),
            (vmin[k] - 0.5, False),
            (vmax[k] - 0.01, True),
            (vmax[k] + 0.5, False),
        ):
            xs, ys = f.to_source(uu[k], vv)
            assert ((0 <= xs <= 2999) and (0 <= ys <= 899)) == inside


def test_straighten_makes_a_tilted_edge_horizontal():
    h, w, ang = 400, 1200, math.radians(4.0)
    yy, xx = np.mgrid[0:h, 0:w]
    edge = 250 - math.tan(ang) * (xx - (w - 1) / 2)
    img = np.where(yy > edge, 200, 40).astype(np.uint8)
    line = CollectorLine(
        0, 250 + math.tan(ang) * (w - 1) / 2, w - 1, 250 - math.tan(ang) * (w - 1) / 2
    )
    s = straighten(img, line)
    assert s.dtype == np.uint8 and s.shape == img.shape
    vc = Frame.from_line(line, img.shape).collector_row(line)
    mid = s[:, 300:900].astype(float)
    assert (mid[int(vc) - 3] < 60).all() and (mid[int(vc) + 3] > 180).all()


def test_largest_rectangle_prefers_width_and_respects_limits():
    top = np.array([10, 10, 10, 10, 10, 76, np.nan, 10], float)
    bot = np.full(8, 300.0)
    r = largest_rectangle(top, bot, step=100, min_height=224)
    assert (r.left, r.width, r.top, r.height) == (0, 600, 76, 225)
    r = largest_rectangle(top, bot, step=100, min_height=224, prefer_width=False)
    assert (r.left, r.width, r.top, r.height) == (0, 500, 10, 291)
    assert largest_rectangle(top, bot, step=100, min_height=400) is None


def test_largest_rectangle_most_tiles_then_tallest():
    # one low column at the far left (a rotated image's corner) must not squash the band
    top = np.array([200, 10, 10, 10, 10, 10, 10, 40], float)
    bot = np.full(8, 300.0)
    r = largest_rectangle(top, bot, step=100, min_height=150, tile_width=250, stride=250)
    assert (r.left, r.width, r.top, r.height) == (100, 600, 10, 291)  # 3 tiles: 101 px
    r = largest_rectangle(top, bot, step=100, min_height=150, tile_width=250, stride=125)
    assert (r.left, r.width, r.top, r.height) == (100, 700, 40, 261)  # 4 tiles beat height
    assert largest_rectangle(top, bot, step=100, min_height=50, tile_width=900) is None


@pytest.mark.parametrize("seed", [21, 23])
def test_scratched_tiles_rejected_clean_ones_kept(seed):
    m = generate_mosaic(
        seed, porosity=0.3, tilt_deg=1.5, width=2800, rgb=False, bit_depth=8, artefacts=("scratch",)
    )
    a = align(m.image)
    hit = 0
    for t in a.tiles:
        top, left, h, w = t.rect
        ph = straighten(m.phase, a.frame, rows=(top, top + h), cols=(left, left + w), order=0)
        n = int((ph == Phase.SCRATCH).sum())
        if n > 300:
            hit += 1
            assert not t.kept and t.reason == "scratch"
        elif n == 0:
            assert t.reason != "scratch"
    assert hit >= 1
    again = Alignment.from_json(a.to_json())
    assert again.to_dict() == a.to_dict() and len(again.extra["scratches"]) >= 1


def test_void_diameters_judge_the_whole_hole():
    from ratescope.core.align.defects import void_diameters

    g = np.full((60, 80), 0.5, np.float32)
    yy, xx = np.mgrid[0:60, 0:80]
    g[(yy - 30) ** 2 + (xx - 20) ** 2 <= 10**2] = 0.05  # empty hole, 21 px across
    g[5, 60] = 0.05  # one dark block: noise
    d = void_diameters(g, epoxy=0.3, factor=2)
    assert 38 <= d[30, 20] <= 44 and d[30, 29] == d[30, 20]  # its rim carries its size
    assert d[5, 60] == 4 and d[50, 70] == 0


def test_mount_floor_reaches_wide_valleys_not_pores_nor_past_bubble_rims():
    from ratescope.core.align.mount import mount_floor

    g = np.full((60, 100), 0.1, np.float32)  # coarse (4 x 4) image, resin everywhere
    g[20:, :] = 0.6  # the coating's grains from coarse row 20 down
    g[20:40, 10:12] = 0.1  # a pore channel 8 px wide opening to the surface
    g[20:35, 40:50] = 0.1  # a valley 40 px wide, 15 coarse rows deep
    g[10, 70:80] = 0.5  # the thin bright rim of an air bubble in the resin
    g[:, 95:] = np.nan  # outside the image: no grain
    floor = mount_floor(g, solid_level=0.3, factor=4, width=400, probe_px=16.0)
    assert floor.shape == (400,)
    assert floor[4 * 11] == 80  # the probe does not fit into the pore channel
    assert floor[4 * 45] == 140  # but reaches the valley's bottom
    assert floor[4 * 75] == 80  # a one-row rim does not stop it
    assert floor[4 * 97] == 240  # nothing stops it outside the image
