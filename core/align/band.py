"""Aligning mosaics of any size within the memory budget: an overview, then a band.

A mosaic whose model image (RGB, 8 bit) fits :data:`WHOLE_BYTES` is aligned whole, as
:func:`core.align.align` always did. A larger one is reduced to an overview of about
:data:`OVERVIEW_PIXELS` (read in strips, see :mod:`core.io.overview`); the collector and
the coating surface found there fix a full-width band of full-resolution rows, from
epoxy above the surface to foil below the collector, which is read alone and aligned as
a whole image would be. The result is translated back into mosaic pixels, so an
:class:`Alignment` means the same whichever way it was made.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ratescope.core.align.collector import CollectorLine
from ratescope.core.align.result import Alignment, align
from ratescope.core.align.straighten import straighten
from ratescope.core.align.surface import Surface
from ratescope.core.align.tiles import Thresholds
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH
from ratescope.core.errors import RateScopeError
from ratescope.core.io.limits import MEMORY_BUDGET_BYTES, gigabytes
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.overview import build_overview, factor_for
from ratescope.core.model_input import to_model_image

WHOLE_BYTES = 512 * 1024**2
"""Mosaics whose pixels plus model image (H x W x 3 bytes) take up to this are aligned
whole."""
OVERVIEW_PIXELS = 24_000_000
"""Pixels of the overview the band is found on."""
MIN_OVERVIEW_WIDTH = 2_048
"""Columns the overview keeps at least (the collector search needs them)."""
EPOXY_MARGIN_PX = 800
"""Full-resolution rows kept beyond the coating surface (epoxy, for the levels)."""
FOIL_MARGIN_PX = 400
"""Full-resolution rows kept beyond the collector edge (foil)."""

Progress = Callable[[float, str], None]


@dataclass
class Working:
    """The pixels an alignment is made on: the model image of the whole mosaic, or of a
    full-width band of its rows.

    Attributes
    ----------
    image : ndarray, shape (h, W, 3), uint8
        Model image (:func:`core.model_input.to_model_image`) of rows ``y0 .. y0+h``.
    y0 : int
        First mosaic row of ``image``.
    mosaic_shape : tuple of int
        ``(H, W)`` of the mosaic.
    """

    image: np.ndarray
    y0: int
    mosaic_shape: tuple[int, int]

    @property
    def whole(self) -> bool:
        return self.y0 == 0 and self.image.shape[0] == self.mosaic_shape[0]

    @property
    def rows(self) -> tuple[int, int]:
        return self.y0, self.y0 + self.image.shape[0]

    def covers(self, y0: float, y1: float) -> bool:
        """Whether mosaic rows ``y0 .. y1`` lie inside the band."""
        return self.rows[0] <= y0 and y1 <= self.rows[1]


def needs_band(mosaic: Mosaic) -> bool:
    """Whether ``mosaic`` is too large to align whole (see :data:`WHOLE_BYTES`)."""
    return mosaic.nbytes + mosaic.height * mosaic.width * 3 > WHOLE_BYTES


def working_image(
    mosaic: Mosaic,
    collector: CollectorLine | None = None,
    surface: Surface | None = None,
    progress: Progress | None = None,
) -> Working:
    """The model image to align ``mosaic`` on: whole, or the band around its coating.

    Parameters
    ----------
    collector, surface : optional
        Lines in mosaic pixels (user edits) that place the band; what is not given is
        found on the overview.

    Raises
    ------
    RateScopeError
        When the overview shows no collector or coating, or the band would exceed the
        memory budget.
    """
    h, w = mosaic.height, mosaic.width
    if not needs_band(mosaic):
        _report(progress, 0.0, "reading the image")
        return Working(to_model_image(mosaic.image), 0, (h, w))
    factor = min(factor_for(h, w, max_pixels=OVERVIEW_PIXELS), max(1, w // MIN_OVERVIEW_WIDTH))
    if collector is None or surface is None:
        _report(progress, 0.0, f"reading an overview (1:{factor})")
        ov, scale = build_overview(
            mosaic,
            max_pixels=-(-h // factor) * -(-w // factor),
            progress=None if progress is None else lambda f: progress(0.6 * f, "overview"),
        )
        _report(progress, 0.6, "finding the coating on the overview")
        small = None if collector is None else _scaled_line(collector, 1.0 / scale)
        edited = None if surface is None else _scaled_surface(surface, 1 / scale)
        found = align(to_model_image(ov), collector=small, surface=edited, scale=scale)
        collector = collector or _scaled_line(found.collector, scale)
        surface = surface or _scaled_surface(found.surface, scale)
        factor = max(1, round(scale))
    y0, y1 = band_rows((h, w), collector, surface, slack=4 * factor)
    nbytes = (y1 - y0) * w * (3 + mosaic.nbytes // (h * w))  # as read + as model image
    if nbytes > MEMORY_BUDGET_BYTES:
        raise RateScopeError(
            f"the coating band to align is {y1 - y0} x {w} px ({gigabytes(nbytes)}), more "
            f"than RateScope's memory budget of {gigabytes(MEMORY_BUDGET_BYTES)}; crop the "
            "mosaic to the electrode",
            mosaic.path,
        )
    _report(progress, 0.7, f"reading rows {y0}-{y1} at full resolution")
    return Working(to_model_image(mosaic.read(y0, y1, 0, w)), y0, (h, w))


def band_rows(
    shape: tuple[int, int], collector: CollectorLine, surface: Surface, slack: int = 0
) -> tuple[int, int]:
    """Mosaic rows from :data:`EPOXY_MARGIN_PX` beyond the surface to
    :data:`FOIL_MARGIN_PX` beyond the collector, over the whole width."""
    h, w = shape
    xs = np.array([0.0, w - 1.0])
    t = (xs - collector.x0) / (collector.x1 - collector.x0)
    yc = collector.y0 + t * (collector.y1 - collector.y0)
    ys = surface.y_at(xs)
    if collector.coating_above:
        top = ys.min() - EPOXY_MARGIN_PX - slack
        bottom = yc.max() + FOIL_MARGIN_PX + slack
    else:
        top = yc.min() - FOIL_MARGIN_PX - slack
        bottom = ys.max() + EPOXY_MARGIN_PX + slack
    y0 = int(np.clip(math.floor(top), 0, h - 1))
    y1 = int(np.clip(math.ceil(bottom) + 1, y0 + 1, h))
    return y0, y1


def align_mosaic(
    mosaic: Mosaic,
    *,
    collector: CollectorLine | None = None,
    surface: Surface | None = None,
    thresholds: Thresholds | None = None,
    overrides: dict[int, bool] | None = None,
    working: Working | None = None,
    progress: Progress | None = None,
) -> tuple[Alignment, Working]:
    """:func:`core.align.align` for a mosaic of any size, in mosaic pixels.

    Parameters
    ----------
    collector, surface : optional
        User-edited lines in mosaic pixels.
    working : Working, optional
        Pixels read earlier; reused when they cover the lines (else read anew).

    Returns
    -------
    alignment : Alignment
        In mosaic pixels (``image_shape`` is the mosaic's ``(H, W, 3)``).
    working : Working
        The pixels it was made on, for :func:`extract_working_tiles`.
    """
    shape = (mosaic.height, mosaic.width)
    if working is None or not _still_covers(working, collector, surface):
        working = working_image(mosaic, collector, surface, progress)
    _report(progress, 0.85, "aligning")
    dy = working.y0
    local = align(
        working.image,
        collector=None if collector is None else _shifted_line(collector, -dy),
        surface=None if surface is None else _shifted_surface(surface, -dy),
        thresholds=thresholds,
        overrides=overrides,
    )
    if working.whole:
        return local, working
    return local.translated(dy, 0, (*shape, 3)), working


def extract_working_tiles(
    working: Working, alignment: Alignment, *, kept_only: bool = True
) -> np.ndarray:
    """The alignment's tiles (model images, ``(N, 224, 672, 3)`` uint8) cut from
    ``working``, exactly as :func:`core.align.extract_tiles` cuts them from the whole."""
    frame = alignment.frame.translated(-working.y0, 0, working.image.shape)
    tiles = alignment.kept if kept_only else alignment.tiles
    out = np.zeros((len(tiles), TILE_HEIGHT, TILE_WIDTH, 3), np.uint8)
    for i, t in enumerate(tiles):
        top, left, hh, ww = t.rect
        top -= working.y0
        out[i] = straighten(working.image, frame, rows=(top, top + hh), cols=(left, left + ww))
    return out


def _still_covers(working: Working, collector, surface) -> bool:
    """Whether ``working`` can be aligned again with these lines (a band must hold them)."""
    lines = [ln for ln in (collector, surface) if ln is not None]
    if working.whole or not lines:
        return True
    ys = [y for ln in lines for y in (ln.y0, ln.y1)]
    return working.covers(min(ys) - EPOXY_MARGIN_PX / 2, max(ys) + FOIL_MARGIN_PX / 2)


def _scaled_line(c: CollectorLine, k: float) -> CollectorLine:
    return CollectorLine(c.x0 * k, c.y0 * k, c.x1 * k, c.y1 * k, c.confidence, c.coating_above)


def _shifted_line(c: CollectorLine, dy: float) -> CollectorLine:
    return CollectorLine(c.x0, c.y0 + dy, c.x1, c.y1 + dy, c.confidence, c.coating_above)


def _scaled_surface(s: Surface, k: float) -> Surface:
    return Surface(s.x0 * k, s.y0 * k, s.x1 * k, s.y1 * k, [x * k for x in s.xs],
                   [d * k for d in s.depth])  # fmt: skip


def _shifted_surface(s: Surface, dy: float) -> Surface:
    return Surface(s.x0, s.y0 + dy, s.x1, s.y1 + dy, list(s.xs), list(s.depth))


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)
