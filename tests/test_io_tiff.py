"""TIFF / BigTIFF / OME-TIFF written with tifffile: pyramids, regions, pixel sizes, laziness."""

import tracemalloc

import numpy as np
import pytest
import tifffile

from ratescope.core.io import load_mosaic
from ratescope.core.io.lazy_tiff import LazyTiffLevel


@pytest.fixture(scope="module")
def rgb():
    return np.random.default_rng(6).integers(0, 255, (1000, 1500, 3), dtype=np.uint8)


def _write_pyramid(path, img, **kw):
    with tifffile.TiffWriter(path, bigtiff=True, ome=kw.pop("ome", False)) as tw:
        tw.write(img, tile=(256, 256), subifds=2, compression="zlib", **kw)
        tw.write(img[::2, ::2], tile=(256, 256), subfiletype=1, compression="zlib")
        tw.write(img[::4, ::4], tile=(128, 128), subfiletype=1, compression="zlib")


def test_ome_pyramid_levels_and_regions_equal_source(tmp_path, rgb):
    path = tmp_path / "pyr.ome.tif"
    _write_pyramid(path, rgb, ome=True, metadata={"axes": "YXS", "PhysicalSizeX": 0.2})
    m = load_mosaic(path)
    assert m.format == "OME-TIFF" and m.metadata["bigtiff"]
    assert [lv.shape for lv in m.levels] == [(1000, 1500, 3), (500, 750, 3), (250, 375, 3)]
    assert (m.pixel_size_um, m.pixel_size_source) == (pytest.approx(0.2), "metadata")
    np.testing.assert_array_equal(m.read(123, 877, 250, 1333), rgb[123:877, 250:1333])
    np.testing.assert_array_equal(
        m.read(10, 400, 300, 700, level=1), rgb[::2, ::2][10:400, 300:700]
    )
    assert m.level_scale(2) == 4


def test_lazy_level_reads_regions_like_numpy(tmp_path, rgb):
    path = tmp_path / "tiles.tif"
    tifffile.imwrite(path, rgb, tile=(128, 256), compression="zstd")
    with tifffile.TiffFile(path) as tf:
        level = LazyTiffLevel(path, tf.pages[0])
    np.testing.assert_array_equal(level[5:999:3, 7:1300:2], rgb[5:999:3, 7:1300:2])
    np.testing.assert_array_equal(level[10], rgb[10])
    np.testing.assert_array_equal(level[-200:, :300, 1], rgb[-200:, :300, 1])


def test_stripped_gray16_with_resolution_in_centimetres(tmp_path):
    img = np.random.default_rng(7).integers(0, 65535, (300, 500), dtype=np.uint16)
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, img, resolution=(1e4 / 0.35, 1e4 / 0.35), resolutionunit="CENTIMETER")
    m = load_mosaic(path)
    assert m.format == "TIFF" and m.dtype == np.uint16
    np.testing.assert_array_equal(m.image, img)
    assert m.pixel_size_um == pytest.approx(0.35) and m.pixel_size_source == "metadata"


def test_no_resolution_means_default_pixel_size(tmp_path):
    path = tmp_path / "bare.tif"
    tifffile.imwrite(path, np.zeros((20, 30), np.uint8))
    m = load_mosaic(path)
    assert (m.pixel_size_um, m.pixel_size_source) == (0.123, "default")


def test_region_read_of_huge_sparse_tiled_file_stays_small(tmp_path):
    h = w = 40_000  # 1.6 GB if loaded whole
    t = 512

    def tiles():
        for r in range(-(-h // t)):
            for c in range(-(-w // t)):
                yield np.full((t, t), (r * 7 + c) % 251 + 1, np.uint8) if (r + c) % 9 == 0 else None

    path = tmp_path / "sparse.tif"
    tifffile.imwrite(path, tiles(), shape=(h, w), dtype=np.uint8, tile=(t, t), bigtiff=True)
    tracemalloc.start()
    try:
        m = load_mosaic(path)
        region = m.read(9 * t - 100, 9 * t + 900, 0, 1500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(m.levels[0], LazyTiffLevel) and m.shape == (h, w)
    assert peak < 30 * 1024**2, f"peak {peak / 1e6:.0f} MB"
    # tile (9, 0) holds 9*7 % 251 + 1 = 64; tile (8, 1) is (8*7+1) % 251 + 1 = 58; others empty
    assert region[100:612, :512].min() == 64 == region[100:612, :512].max()
    assert region[:100, 512:1024].min() == 58
    assert region[100:612, 512:1024].max() == 0
