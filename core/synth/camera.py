"""What a MosaiX scan with a colour camera makes of a reflectance image.

Optics blur, per-tile vignetting and brightness (stitched without blending, so the seams
show), an optional illumination gradient over the whole scan, the bright-field colour
cast, sensor noise and quantisation.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ratescope.core.synth.noise import standard_normal

REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
_TINT_KNOTS = np.array([0.0, 0.1, 0.3, 0.6, 0.9, 1.5], dtype=np.float32)
_TINTS = np.array(
    [
        [1.10, 1.00, 0.82],  # dark epoxy: warm brown-grey
        [1.10, 1.00, 0.82],
        [1.02, 1.00, 0.95],  # carbon-binder: neutral dark grey
        [0.95, 1.00, 1.07],  # NCM: grey with a blue cast
        [1.00, 1.00, 0.98],  # Al foil: near white
        [1.00, 1.00, 0.98],
    ],
    dtype=np.float32,
)
_TINTS /= (_TINTS @ REC709)[:, None]  # each tint has luminance 1: gray = luminance of RGB


def tile_gain(
    rng: np.random.Generator,
    shape: tuple[int, int],
    tiles: list[dict],
    vignetting: float,
    tile_spread: float,
) -> np.ndarray:
    """Multiplicative gain of each pixel from the tile that was stitched last over it.

    Each tile has a gain ``N(1, tile_spread)`` and a radial falloff reaching
    ``1 - vignetting`` in its corners. Writes ``tile["gain"]`` into each tile dict.
    """
    h, w = shape
    gain = np.ones(shape, dtype=np.float32)
    for tile in tiles:
        g = float(1.0 + rng.normal(0.0, tile_spread))
        tile["gain"] = round(g, 5)
        x0, x1 = max(tile["x0"], 0), min(tile["x1"], w)
        y0, y1 = max(tile["y0"], 0), min(tile["y1"], h)
        if x1 <= x0 or y1 <= y0:
            continue
        cx, cy = (tile["x0"] + tile["x1"] - 1) / 2, (tile["y0"] + tile["y1"] - 1) / 2
        rx = (np.arange(x0, x1, dtype=np.float32) - cx) / ((tile["x1"] - tile["x0"]) / 2)
        ry = (np.arange(y0, y1, dtype=np.float32) - cy) / ((tile["y1"] - tile["y0"]) / 2)
        gain[y0:y1, x0:x1] = g * (1.0 - vignetting * 0.5 * (ry[:, None] ** 2 + rx[None, :] ** 2))
    return gain


def illumination_ramp(shape: tuple[int, int], amplitude: float, angle_deg: float) -> np.ndarray:
    """Linear illumination change of ``±amplitude`` across the image along ``angle_deg``."""
    h, w = shape
    a = np.radians(angle_deg)
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / max(w - 1, 1) * 2
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / max(h - 1, 1) * 2
    return 1.0 + amplitude * (np.cos(a) * x[None, :] + np.sin(a) * y[:, None]) / np.float32(
        np.abs(np.cos(a)) + np.abs(np.sin(a))
    )


def expose(
    rng: np.random.Generator,
    reflectance: np.ndarray,
    gain: np.ndarray,
    *,
    rgb: bool,
    blur_sigma_px: float,
    noise_level: float,
    full_scale: int,
    dtype: type,
) -> np.ndarray:
    """Blur, colour, gain, noise and quantise a reflectance image.

    Parameters
    ----------
    reflectance : ndarray of float32, shape (H, W)
        Relative reflectance in [0, 1].
    gain : ndarray of float32, shape (H, W)
        Illumination and tile gain.
    rgb : bool
        (H, W, 3) RGB with the bright-field colour cast, else (H, W) luminance.
    blur_sigma_px : float
        Standard deviation of the optics' Gaussian point spread, px.
    noise_level : float
        Scale of the shot + read noise (1 = a typical CCD at mid exposure, 0 = none).
    full_scale : int
        Digital value of reflectance 1.0 (255, 4095, 65535 ...).
    dtype : numpy dtype
        ``np.uint8`` or ``np.uint16``.
    """
    img = reflectance
    if blur_sigma_px > 0:
        img = ndimage.gaussian_filter(img, blur_sigma_px, truncate=3.0)
    lit = img * gain
    levels = np.arange(383) / 255.0
    index = np.clip(img * 255.0, 0, 382).astype(np.int16)
    if noise_level > 0:  # one noise field: a demosaiced colour camera's channels correlate
        sd = np.sqrt(2.0e-4 * noise_level * levels + (0.004 * noise_level) ** 2)
        noise = standard_normal(rng, lit.shape)
        noise *= np.take(sd.astype(np.float32), index)
        lit += noise
    lit *= np.float32(full_scale)
    if not rgb:
        return _quantise(lit, full_scale, dtype)
    out = np.empty(lit.shape + (3,), dtype=dtype)
    for c in range(3):
        tint = np.interp(levels, _TINT_KNOTS, _TINTS[:, c]).astype(np.float32)
        out[..., c] = _quantise(lit * np.take(tint, index), full_scale, dtype)
    return out


def _quantise(values: np.ndarray, full_scale: int, dtype: type) -> np.ndarray:
    values += np.float32(0.5)
    np.clip(values, 0, full_scale, out=values)
    return values.astype(dtype)
