"""Which part of a mosaic to show: pyramid level choice, visible regions, overviews.

Pure numpy helpers for :mod:`gui.mosaic.view` (no Qt), so they are easy to test and
cheap to call on every view change. Coordinates are level-0 pixels unless stated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ratescope.core.io.mosaic import Mosaic

OVERVIEW_MAX_SIDE = 2048
"""Longest side of the overview image kept for the whole mosaic (about a screen)."""

MAX_REGION_READ_PIXELS = 40_000_000
"""A visible region needing more level pixels than this is not read (overview only)."""

STRIP_BYTES = 64 * 1024**2
"""Bytes of level data read at once while building an overview."""


@dataclass(frozen=True)
class Region:
    """A rectangle of one pyramid level, in that level's pixels (end exclusive).

    ``step`` is the block size it is averaged down by after reading, so that what is
    drawn has about one pixel per screen pixel.
    """

    level: int
    y0: int
    y1: int
    x0: int
    x1: int
    step: int = 1

    @property
    def pixels(self) -> int:
        """Level pixels read."""
        return (self.y1 - self.y0) * (self.x1 - self.x0)

    def contains(self, other: Region) -> bool:
        """Whether ``other`` (same level and step) lies inside this region."""
        return (
            self.level == other.level
            and self.step == other.step
            and self.y0 <= other.y0
            and self.x0 <= other.x0
            and self.y1 >= other.y1
            and self.x1 >= other.x1
        )


def level_scales(mosaic: Mosaic) -> list[float]:
    """Level-0 pixels per pixel of each level (1.0 first)."""
    return [mosaic.level_scale(i) for i in range(len(mosaic.levels))]


def choose_level(mosaic: Mosaic, image_px_per_screen_px: float) -> int:
    """The coarsest level that still has at least one pixel per screen pixel.

    Parameters
    ----------
    mosaic : Mosaic
        The mosaic shown.
    image_px_per_screen_px : float
        Level-0 pixels covered by one device pixel at the current zoom.

    Returns
    -------
    int
        Index into ``mosaic.levels``; 0 when zoomed in beyond 1:1.
    """
    scales = level_scales(mosaic)
    fine_enough = [i for i, s in enumerate(scales) if s <= image_px_per_screen_px * 1.0001]
    return max(fine_enough, key=scales.__getitem__) if fine_enough else 0


def visible_region(
    mosaic: Mosaic,
    level: int,
    view: tuple[float, float, float, float],
    margin: float = 0.25,
    step: int = 1,
) -> Region | None:
    """The part of ``level`` covering ``view`` plus a margin, clipped to the image.

    Parameters
    ----------
    view : (x0, y0, x1, y1)
        Visible rectangle in level-0 pixels.
    margin : float
        Extra fraction of the view size added on every side, so small pans need no read.

    Returns
    -------
    Region or None
        None when the view does not overlap the image.
    """
    x0, y0, x1, y1 = view
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    scale = mosaic.level_scale(level)
    height, width = mosaic.levels[level].shape[:2]
    rx0 = max(0, math.floor((x0 - dx) / scale))
    ry0 = max(0, math.floor((y0 - dy) / scale))
    rx1 = min(width, math.ceil((x1 + dx) / scale))
    ry1 = min(height, math.ceil((y1 + dy) / scale))
    if rx1 <= rx0 or ry1 <= ry0:
        return None
    return Region(level, ry0, ry1, rx0, rx1, step)


def read_region(mosaic: Mosaic, region: Region) -> np.ndarray:
    """Read ``region`` and average it down by ``region.step`` (runs in a worker)."""
    data = mosaic.read(region.y0, region.y1, region.x0, region.x1, level=region.level)
    return block_mean(data, region.step)


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Downsample by averaging ``factor`` × ``factor`` blocks, keeping the dtype.

    Rows and columns that do not fill a whole block are dropped.
    """
    if factor <= 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    cropped = image[: height * factor, : width * factor]
    total = np.zeros((height, width, *image.shape[2:]), np.uint32)
    for dy in range(factor):  # strided adds: far faster than a reshaped mean
        for dx in range(factor):
            total += cropped[dy::factor, dx::factor]
    return ((total + factor * factor // 2) // (factor * factor)).astype(image.dtype)


def build_overview(
    mosaic: Mosaic,
    max_side: int = OVERVIEW_MAX_SIDE,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, float]:
    """An in-memory image of the whole mosaic with its longest side ≤ ``max_side``.

    The finest pyramid level up to four times that size is read (the coarsest level if
    none is that small), in strips, and block-averaged down. Memory stays bounded for a
    single-level mosaic of any size.

    Parameters
    ----------
    progress : callable, optional
        Called with the fraction done after each strip; may raise to cancel.

    Returns
    -------
    image : ndarray
        (h, w) or (h, w, 3), the mosaic's dtype.
    scale : float
        Level-0 pixels per overview pixel.
    """
    scales = level_scales(mosaic)
    small = [i for i, level in enumerate(mosaic.levels) if max(level.shape[:2]) <= 4 * max_side]
    source = (
        min(small, key=scales.__getitem__)
        if small
        else max(range(len(scales)), key=scales.__getitem__)
    )
    height, width = mosaic.levels[source].shape[:2]
    factor = max(1, min(math.ceil(max(height, width) / max_side), height, width))
    channels = 3 if mosaic.is_rgb else 1
    row_bytes = width * channels * mosaic.dtype.itemsize
    rows_per_strip = max(factor, (STRIP_BYTES // row_bytes) // factor * factor)
    usable = height // factor * factor
    strips = []
    for y in range(0, usable, rows_per_strip):
        y_end = min(usable, y + rows_per_strip)
        strips.append(block_mean(mosaic.read(y, y_end, 0, width, level=source), factor))
        if progress is not None:
            progress(y_end / usable)
    return np.concatenate(strips, axis=0), scales[source] * factor


def display_levels(image: np.ndarray) -> tuple[float, float]:
    """Display range for an image: the full range for 8 bit, robust percentiles for 16.

    The data are never changed; only the mapping to screen brightness is chosen.
    16-bit cameras often fill only 10–14 bits, so the 0.1–99.9 percentiles are used.
    """
    if image.dtype == np.uint8:
        return 0.0, 255.0
    step = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / 1_000_000)))
    sample = np.asarray(image[::step, ::step], dtype=np.float64)
    low, high = np.percentile(sample, [0.1, 99.9])
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    if high <= low:
        high = low + 1.0
    return float(low), float(high)
