"""Which part of a mosaic to show: pyramid level choice, visible regions, overviews.

Pure numpy helpers for :mod:`gui.mosaic.view` (no Qt), so they are easy to test and
cheap to call on every view change. Coordinates are level-0 pixels unless stated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ratescope.core.io import overview
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.overview import block_mean

OVERVIEW_MAX_SIDE = 2048
"""Longest side of the overview image kept for the whole mosaic (about a screen)."""

MAX_REGION_READ_PIXELS = 40_000_000
"""A visible region needing more level pixels than this is not read (overview only)."""


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


def build_overview(
    mosaic: Mosaic,
    max_side: int = OVERVIEW_MAX_SIDE,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, float]:
    """A screen-sized overview of the whole mosaic (:func:`core.io.overview.build_overview`)."""
    return overview.build_overview(mosaic, max_side=max_side, progress=progress)


DARK_8BIT = 32
"""8-bit images whose 99.9th percentile is below this are stretched for display."""


def display_levels(image: np.ndarray) -> tuple[float, float]:
    """Display range for an image: the full range for 8 bit, robust percentiles for 16.

    The data are never changed; only the mapping to screen brightness is chosen.
    16-bit cameras often fill only 10–14 bits, so the 0.1–99.9 percentiles are used; so
    are they for an 8-bit image that would look black (its 99.9th percentile under
    :data:`DARK_8BIT`, e.g. a label or channel image holding 0–2).
    """
    step = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / 1_000_000)))
    sample = np.asarray(image[::step, ::step], dtype=np.float64)
    low, high = np.percentile(sample, [0.1, 99.9])
    if image.dtype == np.uint8 and high >= DARK_8BIT:
        return 0.0, 255.0
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    if high <= low:
        high = low + 1.0
    return float(low), float(high)
