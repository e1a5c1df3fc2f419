"""Judging the tiles on the straightened half-resolution band around them.

Scratches and voids are searched over a band a little larger than the tiles (a line seen
over more of its length is more certain, a void is judged whole); mount epoxy comes from
the probe's reach (:mod:`core.align.mount`). :func:`core.align.tiles.judge_tiles` then
measures each tile and decides.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ratescope.core.align.defects import void_diameters
from ratescope.core.align.rectangle import Rect
from ratescope.core.align.scratches import Segment, find_scratches
from ratescope.core.align.straighten import Frame, straighten_coarse
from ratescope.core.align.surface import Levels
from ratescope.core.align.tiles import Thresholds, Tile, judge_tiles
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH

SCRATCH_MARGIN = 48
"""Rows (px) above and below the tiles also searched for scratches and voids."""
SCRATCH_SIDE = 256
"""Columns (px) left and right of the tiles also searched: a scratch that only clips a
tile's corner is seen along more of its length."""


def judge_band(
    half: np.ndarray,
    frame: Frame,
    rect: Rect,
    tiles: list[Tile],
    levels: Levels,
    th: Thresholds,
    floor: np.ndarray,
) -> list[Segment]:
    """Judge the tiles on the half-resolution straightened image (``floor``: the mount
    epoxy's reach per straightened column); the scratches found."""
    top, left = tiles[0].rect[0] // 2, tiles[0].rect[1] // 2
    right = (tiles[-1].rect[1] + TILE_WIDTH) // 2
    # scratches and voids are searched a little above, below and beside the tiles: a
    # line seen over a larger band is more certain, a void is judged whole; never below
    # the rectangle (the foil's edge is a long straight line too)
    r0 = max(top - SCRATCH_MARGIN // 2, 0)
    r1 = max(
        min(top + (TILE_HEIGHT + SCRATCH_MARGIN) // 2, rect.bottom // 2), top + TILE_HEIGHT // 2
    )
    c0 = max(left - SCRATCH_SIDE // 2, 0)
    c1 = max(min(right + SCRATCH_SIDE // 2, frame.shape[1] // 2), right)
    band = straighten_coarse(half, frame, 2, rows=(r0, r1), cols=(c0, c1))
    span = max(levels.solid - levels.epoxy, 1e-3)
    scratches = find_scratches(
        band,
        levels.dark_threshold,
        span,
        factor=2,
        top=2 * r0,
        left=2 * c0,
        min_length_px=th.scratch_min_length_px,
        line_contrast=th.scratch_line_contrast,
        min_coverage=th.scratch_min_score,
    )
    # a tile touching (within 4 px) any part of a large void shows it
    voids = ndi.maximum_filter(void_diameters(band, levels.epoxy), size=5)
    rows = (slice(top - r0, top - r0 + TILE_HEIGHT // 2), slice(left - c0, right - c0))
    # mount epoxy: above the probe's reach (rows and columns at the half-res centres)
    v = 2 * np.arange(top, top + TILE_HEIGHT // 2) + 0.5
    mount = v[:, None] < floor[2 * left : 2 * right : 2][None, :]
    judge_tiles(
        band[rows],
        2 * left,
        tiles,
        levels,
        th,
        factor=2,
        scratches=scratches,
        voids=voids[rows],
        mount=mount,
    )
    return scratches
