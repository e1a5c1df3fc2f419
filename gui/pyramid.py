"""Which part of a mosaic to show: pyramid level choice, visible regions, overviews.

Pure numpy helpers for :mod:`gui.mosaic_view` (no Qt), so they are easy to test and
cheap to call on every view change. Coordinates are level-0 pixels unless stated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.io.mosaic import Mosaic

OVERVIEW_MAX_SIDE = 4096
"""Longest side of the overview image kept for the whole mosaic."""

SMALL_IMAGE_PIXELS = 48_000_000
"""A level 0 up to this many pixels is shown whole; no region reads are needed."""

STRIP_BYTES = 64 * 1024**2
"""Bytes of level data read at once while building an overview."""


@dataclass(frozen=True)
class Region:
    """A rectangle of one pyramid level, in that level's pixels (end exclusive)."""

    level: int
    y0: int
    y1: int
    x0: int
    x1: int

    def contains(self, other: Region) -> bool:
        """Whether ``other`` (same level) lies inside this region."""
        return (
            self.level == other.level
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
    mosaic: Mosaic, level: int, view: tuple[float, float, float, float], margin: float = 0.25
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
    return Region(level, ry0, ry1, rx0, rx1)


def is_small(mosaic: Mosaic) -> bool:
    """Whether level 0 is small enough to be shown whole."""
    return mosaic.height * mosaic.width <= SMALL_IMAGE_PIXELS


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

    Small mosaics are returned whole (level 0). Otherwise the finest pyramid level that
    fits is read; if none fits, the coarsest level is read in strips and block-averaged.

    Parameters
    ----------
    progress : callable, optional
        Called with the fraction done while reading strips; may raise to cancel.

    Returns
    -------
    image : ndarray
        (h, w) or (h, w, 3), the mosaic's dtype.
    scale : float
        Level-0 pixels per overview pixel.
    """
    if is_small(mosaic):
        return mosaic.read(0, mosaic.height, 0, mosaic.width, level=0), 1.0
    fitting = [i for i, level in enumerate(mosaic.levels) if max(level.shape[:2]) <= max_side]
    if fitting:
        level = min(fitting, key=lambda i: mosaic.level_scale(i))
        height, width = mosaic.levels[level].shape[:2]
        return mosaic.read(0, height, 0, width, level=level), mosaic.level_scale(level)
    source = max(range(len(mosaic.levels)), key=lambda i: mosaic.level_scale(i))
    height, width = mosaic.levels[source].shape[:2]
    factor = math.ceil(max(height, width) / max_side)
    channels = mosaic.levels[source].shape[2] if len(mosaic.shape) == 3 else 1
    row_bytes = width * channels * mosaic.dtype.itemsize
    rows_per_strip = max(factor, (STRIP_BYTES // row_bytes) // factor * factor)
    strips = []
    for y in range(0, height - factor + 1, rows_per_strip):
        y_end = min(height, y + rows_per_strip)
        strips.append(block_mean(mosaic.read(y, y_end, 0, width, level=source), factor))
        if progress is not None:
            progress(y_end / height)
    return np.concatenate(strips, axis=0), mosaic.level_scale(source) * factor


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
