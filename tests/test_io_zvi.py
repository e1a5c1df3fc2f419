"""AxioVision ZVI mosaics (OLE2, one stream per tile) placed from stage or grid positions."""

import numpy as np
import olefile
import pytest
from _io_helpers import write_zvi

from ratescope.core.io import load_mosaic


def test_rgb_tiles_placed_from_stage_positions_with_overlap(tmp_path):
    img = np.random.default_rng(4).integers(0, 255, (500, 800, 3), dtype=np.uint8)
    img[..., 2] = 7  # distinct blue: a B/R swap would show
    path = tmp_path / "mosaix.zvi"
    write_zvi(path, img, tile_shape=(200, 300), overlap=40, pixel_size_um=0.5)
    with olefile.OleFileIO(str(path)) as ole:  # a real compound file olefile understands
        assert ole.exists("Image/Item(0)/Contents") and ole.exists("Image/Item(0)/Tags/Contents")

    m = load_mosaic(path)
    assert m.format == "ZVI" and m.metadata["tiles_placed_by"] == "stage"
    assert m.metadata["tiles"] == 9
    np.testing.assert_array_equal(m.image, img)
    assert (m.pixel_size_um, m.pixel_size_source) == (0.5, "metadata")


def test_gray16_without_stage_positions_falls_back_to_grid(tmp_path):
    img = np.random.default_rng(5).integers(0, 65535, (450, 700), dtype=np.uint16)
    path = tmp_path / "grid.zvi"
    write_zvi(path, img, tile_shape=(200, 300), stage_origin_um=None, pixel_size_um=None)
    m = load_mosaic(path)
    assert m.metadata["tiles_placed_by"] == "grid" and m.dtype == np.uint16
    np.testing.assert_array_equal(m.image, img)
    assert (m.pixel_size_um, m.pixel_size_source) == (pytest.approx(0.123), "default")
