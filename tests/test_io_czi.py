"""CZI mosaics written with ZEISS's pylibCZIrw read back stitched and equal."""

import os
import sys

import numpy as np
import pytest
from pylibCZIrw import czi as pyczi

from ratescope.core.errors import MultipleScenes, RateScopeError
from ratescope.core.io import list_scenes, load_mosaic
from ratescope.core.io.czi import write_czi_mosaic


@pytest.fixture(scope="module")
def gray16():
    rng = np.random.default_rng(2)
    return rng.integers(0, 65535, (700, 1100), dtype=np.uint16)


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 255, (450, 900, 3), dtype=np.uint8)
    img[..., 0] = 250  # a distinct red channel: a B/R swap would show
    return img


def test_gray16_overlapping_tiles_negative_origin_read_back_equal(tmp_path, gray16):
    path = tmp_path / "gray.czi"
    write_czi_mosaic(
        path, gray16, tile_shape=(256, 384), overlap=40, origin=(-500, -70), pixel_size_um=0.25
    )
    with pyczi.open_czi(str(path)) as r:  # the file really is a tiled mosaic
        rect = r.total_bounding_rectangle
        n = []
        r.enumerate_subblocks(lambda _i, info: n.append(info.mIndex) or True)
    assert (rect.x, rect.y) == (-500, -70) and len(n) > 6 and len(set(n)) == len(n)

    m = load_mosaic(path)
    assert m.format == "CZI" and m.dtype == np.uint16 and not m.is_rgb
    np.testing.assert_array_equal(m.image, gray16)
    assert m.pixel_size_um == pytest.approx(0.25) and m.pixel_size_source == "metadata"
    assert m.metadata["tiles"] == len(n)


def test_rgb_comes_back_rgb_not_bgr(tmp_path, rgb):
    path = tmp_path / "colour.czi"
    write_czi_mosaic(path, rgb, tile_shape=(200, 300), overlap=25, compression="none")
    m = load_mosaic(path)
    assert m.is_rgb and m.shape == rgb.shape
    np.testing.assert_array_equal(m.image, rgb)
    assert m.pixel_size_um == pytest.approx(0.123)


def test_multiple_scenes_must_be_chosen(tmp_path, rgb, gray16):
    path = tmp_path / "scenes.czi"
    second = rgb[:300, :500].copy()
    write_czi_mosaic(path, [rgb, second], tile_shape=(256, 256), overlap=16, origin=(-40, 10))
    assert len(list_scenes(path)) == 2
    with pytest.raises(MultipleScenes) as err:
        load_mosaic(path)
    assert len(err.value.scenes) == 2 and "scenes.czi" in str(err.value)
    np.testing.assert_array_equal(load_mosaic(path, scene=0).image, rgb)
    m1 = load_mosaic(path, scene=1)
    np.testing.assert_array_equal(m1.image, second)
    assert m1.scene == 1
    with pytest.raises(RateScopeError, match="no scene 5"):
        load_mosaic(path, scene=5)


def test_user_pixel_size_overrides_and_suffix_does_not_matter(tmp_path, gray16):
    path = tmp_path / "actually_a_czi.tif"
    write_czi_mosaic(path, gray16[:300, :300].astype(np.uint8), pixel_size_um=0.5)
    m = load_mosaic(path, pixel_size_um=0.2)
    assert m.format == "CZI"
    assert (m.pixel_size_um, m.pixel_size_source) == (0.2, "user")


@pytest.mark.parametrize("damage", ["xor", "start"])
def test_a_damaged_channel_range_is_refused_at_once(tmp_path, damage):
    """Found by the fuzzer: a damaged C range in the subblock directory (0..3 276 801, or a
    start of 2^31 - 16) made the reader name millions of channels (seconds, then memory)."""
    import time

    from ratescope.core.io import load_mosaic

    path = tmp_path / "seed.czi"
    write_czi_mosaic(path, np.random.default_rng(7).integers(0, 255, (96, 160), dtype=np.uint8),
                     tile_shape=(64, 64), overlap=8)  # fmt: skip
    data = bytearray(path.read_bytes())
    assert len(data) == 29824  # the layout the offsets below refer to
    if damage == "xor":
        data[29402] ^= 0x32
    else:
        data[28884:28888] = (0x7FFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    t0 = time.perf_counter()
    with pytest.raises(RateScopeError, match=r"seed\.czi: the file claims \d+ channels"):
        load_mosaic(path)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.skipif(os.name != "posix" or sys.platform == "darwin",
                    reason="file names are bytes only on Linux")  # fmt: skip
def test_a_czi_whose_name_is_not_utf8_opens(tmp_path):
    """Such a name (Latin-1 'café') cannot be passed to libCZI; it was called damaged."""
    from ratescope.core.io import load_mosaic

    image = np.random.default_rng(3).integers(0, 255, (120, 200), dtype=np.uint8)
    good = tmp_path / "plain.czi"
    write_czi_mosaic(good, image, tile_shape=(64, 64))
    odd = os.path.join(os.fsencode(tmp_path), b"caf\xe9.czi")
    os.rename(os.fsencode(good), odd)
    mosaic = load_mosaic(os.fsdecode(odd))
    np.testing.assert_array_equal(mosaic.image, image)
