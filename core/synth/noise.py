"""Fast random fields for texture and sensor noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import ndtri

_LEVELS = 65536
_NORMAL_TABLE = ndtri((np.arange(_LEVELS) + 0.5) / _LEVELS).astype(np.float32)


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal samples, float32 ``shape``, via a 16-bit inverse-CDF table.

    About three times faster than ``rng.standard_normal`` for image-sized arrays; the
    values are quantised to 65 536 levels (tails cut at ±4.3), which no image shows.
    """
    return np.take(_NORMAL_TABLE, rng.integers(0, _LEVELS, shape, dtype=np.uint16))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> np.ndarray:
    """Zero-mean unit-variance noise that varies over about ``cell`` px, float32 ``shape``."""
    coarse = (shape[0] // cell + 3, shape[1] // cell + 3)
    grid = ndimage.gaussian_filter(rng.standard_normal(coarse, dtype=np.float32), 1.0)
    grid /= max(float(grid.std()), 1e-6)

    def weights(n: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.arange(n, dtype=np.float32) / np.float32(cell)
        i = pos.astype(np.intp)
        return i, (pos - i)[:, None]

    ix, fx = weights(shape[1])
    cols = (grid[:, ix] * (1 - fx[:, 0]) + grid[:, ix + 1] * fx[:, 0]).astype(np.float32)
    iy, fy = weights(shape[0])
    return cols[iy] * (1 - fy) + cols[iy + 1] * fy
