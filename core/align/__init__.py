"""Alignment and crop (paper 1's preparation): collector -> straighten ->
surface -> usable rectangle -> 224 x 672 tiles with keep/reject reasons.

Modules, in pipeline order: ``prepare`` (gray, block means), ``collector``,
``straighten`` (the frame and the resampling), ``surface``, ``mount`` (mount epoxy vs
pores), ``rectangle``, ``tiles`` (layout, thresholds, decisions), ``tile_band`` (the band
the tiles are judged on), ``defects`` (voids), ``scratches`` (with ``scratch_ridges``,
``scratch_hough``, ``scratch_profile``, ``scratch_segment``), ``result`` (``align``,
``Alignment``, ``extract_tiles``).
"""

from ratescope.core.align.collector import CollectorLine, detect_collector
from ratescope.core.align.rectangle import Rect, largest_rectangle
from ratescope.core.align.result import Alignment, align, extract_tiles, usable_rectangle
from ratescope.core.align.straighten import Frame, straighten
from ratescope.core.align.surface import Levels, Surface, detect_surface
from ratescope.core.align.tiles import REASONS, Thresholds, Tile, judge_tiles, layout_tiles

__all__ = [
    "REASONS",
    "Alignment",
    "CollectorLine",
    "Frame",
    "Levels",
    "Rect",
    "Surface",
    "Thresholds",
    "Tile",
    "align",
    "detect_collector",
    "detect_surface",
    "extract_tiles",
    "judge_tiles",
    "largest_rectangle",
    "layout_tiles",
    "straighten",
    "usable_rectangle",
]
