"""The benchmark's generated pyramid is a real lazy, tiled, JPEG BigTIFF pyramid."""

import numpy as np
import pytest

from ratescope.core.bench.io import TILE, _pattern, write_big_pyramid
from ratescope.core.io import load_mosaic
from ratescope.core.io.lazy_tiff import LazyTiffLevel


def test_generated_pyramid_reads_back(tmp_path, monkeypatch):
    # force the lazy path on a small file
    monkeypatch.setattr("ratescope.core.io.tiff.EAGER_BYTES", 1024)
    path = tmp_path / "pyr.tif"
    write_big_pyramid(path, shape=(1500, 2600), levels=3)
    m = load_mosaic(path)
    assert [lv.shape for lv in m.levels] == [(1500, 2600, 3), (750, 1300, 3), (375, 650, 3)]
    assert all(isinstance(lv, LazyTiffLevel) for lv in m.levels)
    assert m.pixel_size_um == pytest.approx(0.123) and m.pixel_size_source == "metadata"
    region = m.read(TILE, 2 * TILE, 3 * TILE, 4 * TILE).astype(int)  # tile row 1, column 3
    assert np.abs(region - _pattern(1, 1)).mean() < 4  # JPEG-compressed copy of the pattern
