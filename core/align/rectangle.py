"""The largest axis-aligned rectangle between two limits that vary along the electrode."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle of pixels in the straightened image.

    Attributes
    ----------
    top, left : int
        First row and column (straightened pixels).
    height, width : int
        Size in pixels; rows ``top .. top+height-1`` and columns ``left .. left+width-1``.
    """

    top: int
    left: int
    height: int
    width: int

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.top + self.height

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.left + self.width

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.top, self.left, self.height, self.width)


def _window(x: np.ndarray, size: int, fn) -> np.ndarray:
    """``fn`` (ndimage's maximum/minimum_filter1d) over every window of ``size``
    consecutive values: entry ``j`` covers ``x[j:j+size]``."""
    m = fn(x, size, mode="nearest")
    return m[size // 2 : size // 2 + len(x) - size + 1]


def _most_tiles(
    top: np.ndarray,
    bot: np.ndarray,
    step: int,
    offset: int,
    min_height: int,
    tile_width: int,
    stride: int,
) -> Rect | None:
    """The rectangle holding most tiles, then the tallest, grown sideways while its
    height stays."""
    n = len(top)
    stride = max(int(stride), 1)
    kmax = (n * step - tile_width) // stride + 1
    for k in range(kmax, 0, -1):
        size = math.ceil((tile_width + (k - 1) * stride) / step)
        if size > n:
            continue
        tmax = _window(top, size, ndi.maximum_filter1d)
        bmin = _window(bot, size, ndi.minimum_filter1d)
        hgt = bmin - tmax + 1
        j = int(np.argmax(hgt))
        if not hgt[j] >= min_height:
            continue
        t, b = tmax[j], bmin[j]
        fits = (top <= t) & (bot >= b)
        lo, hi = j, j + size  # grow over neighbours that keep the height
        while lo > 0 and fits[lo - 1]:
            lo -= 1
        while hi < n and fits[hi]:
            hi += 1
        return Rect(int(t), offset + lo * step, int(b - t + 1), (hi - lo) * step)
    return None


def largest_rectangle(
    top_limit: np.ndarray,
    bottom_limit: np.ndarray,
    *,
    step: int = 1,
    offset: int = 0,
    min_height: int = 1,
    prefer_width: bool = True,
    tile_width: int | None = None,
    stride: int | None = None,
) -> Rect | None:
    """Largest rectangle whose rows stay within per-column limits.

    With ``tile_width`` given, "largest" is the rectangle that holds the most tiles of
    ``tile_width`` every ``stride`` px, then the tallest of those (the tiles are centre
    crops, so a taller band puts them mid-coating, clear of surface and foil), grown
    sideways while its height stays: ends are trimmed rather than the height squashed.
    Otherwise it is the widest rectangle at least ``min_height`` tall (then the tallest
    of those); ``prefer_width=False`` maximises the area instead (the paper's wording).

    Parameters
    ----------
    top_limit, bottom_limit : ndarray, shape (n,), float
        For column group ``k`` (pixels ``offset + k*step .. offset + k*step + step - 1``):
        the first and last row a rectangle may use (NaN: the group is unusable).
    step : int
        Columns per group; the rectangle's sides lie on group boundaries.
    offset : int
        Column of group 0's first pixel.
    min_height : int
        Rectangles lower than this are not considered.
    prefer_width : bool
        Widest (default) or largest area (without ``tile_width``).
    tile_width : int, optional
        Width of one tile, px: maximise the number of tiles, then the height.
    stride : int, optional
        Distance between tiles' left edges, px (default ``tile_width``).

    Returns
    -------
    Rect or None
        None when no rectangle of at least ``min_height`` rows fits.
    """
    top = np.where(np.isfinite(top_limit), np.ceil(top_limit), np.inf)
    bot = np.where(np.isfinite(bottom_limit), np.floor(bottom_limit), -np.inf)
    if tile_width is not None:
        return _most_tiles(
            top, bot, step, offset, min_height, int(tile_width), int(stride or tile_width)
        )
    n = len(top)
    best, best_area = None, 0.0
    for j in range(n):
        if bot[j] - top[j] + 1 < min_height:
            continue
        if j > 0 and top[j - 1] <= top[j] and bot[j - 1] >= bot[j]:
            continue  # extending to the left never hurts: not an optimal left edge
        tmax = np.maximum.accumulate(top[j:])
        bmin = np.minimum.accumulate(bot[j:])
        hgt = bmin - tmax + 1
        good = hgt >= min_height
        if not good[0]:
            continue
        last = len(good) if good.all() else int(np.argmin(good))
        width = np.arange(1, last + 1) * step
        # widest first (more tiles), then the larger area among equally wide ones
        score = width * 1e6 + hgt[:last] if prefer_width else hgt[:last] * width
        k = int(np.argmax(score))
        if score[k] > best_area:
            best_area = float(score[k])
            best = Rect(int(tmax[k]), offset + j * step, int(hgt[k]), (k + 1) * step)
    return best
