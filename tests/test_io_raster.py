"""PNG and JPEG written by Pillow read back as stored (no rescaling, RGB order)."""

import numpy as np
import pytest
from PIL import Image

from ratescope.core.io import load_mosaic


def test_png_gray8_rgb_and_16bit(tmp_path):
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    gray16 = rng.integers(0, 65535, (90, 70), dtype=np.uint16)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    m = load_mosaic(tmp_path / "c.png")
    assert m.format == "PNG" and m.is_rgb
    np.testing.assert_array_equal(m.image, rgb)
    assert (m.pixel_size_um, m.pixel_size_source) == (0.123, "default")
    g = load_mosaic(tmp_path / "g16.png", pixel_size_um=0.3)
    assert g.dtype == np.uint16 and g.pixel_size_source == "user"
    np.testing.assert_array_equal(g.image, gray16)


def test_jpeg_matches_an_independent_decoder(tmp_path):
    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    m = load_mosaic(path)
    assert m.format == "JPEG" and m.shape == (240, 320, 3)
    reference = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert np.abs(m.image.astype(int) - reference).max() <= 2
    assert np.abs(m.image.astype(int) - rgb).mean() < 3


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_png_gray_and_alpha(tmp_path, mode):
    img = np.random.default_rng(9).integers(0, 255, (50, 60, 4), dtype=np.uint8)
    src = img[..., 0] if mode == "L" else img
    Image.fromarray(src, mode).save(tmp_path / "a.png")
    m = load_mosaic(tmp_path / "a.png")
    np.testing.assert_array_equal(m.image, src if mode == "L" else img[..., :3])
