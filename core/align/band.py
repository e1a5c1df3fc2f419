"""Aligning mosaics of any size within the memory budget: an overview, then a band.

A mosaic whose model image (RGB, 8 bit) fits :data:`WHOLE_BYTES` is aligned whole, as
:func:`core.align.align` always did. A larger one is reduced to an overview of about
:data:`OVERVIEW_PIXELS` (read in strips, see :mod:`core.io.overview`); the collector and
the coating surface found there fix a full-width band of full-resolution rows, from
epoxy above the surface to foil below the collector, which is read alone and aligned as
a whole image would be. The result is translated back into mosaic pixels, so an
:class:`Alignment` means the same whichever way it was made.

Either way the pixels are first resampled to the models' pixel size
(:data:`core.constants.DEFAULT_PIXEL_SIZE_UM`, 0.123 µm, the paper's) when the mosaic's
differs by more than :data:`ZOOM_TOLERANCE`: the tiles the models see then always span
the same 27.6 x 82.7 µm, whatever microscope took the image.
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
from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM, TILE_HEIGHT, TILE_WIDTH
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

BAND_BYTES = 3 * MEMORY_BUDGET_BYTES // 2
"""Most bytes a band and its copies may take (one decode of it stays within the budget)."""
ZOOM_TOLERANCE = 0.005
"""Relative pixel-size difference below which the mosaic is used as it is."""

Progress = Callable[[float, str], None]


@dataclass
class Working:
    """The pixels an alignment is made on: the model image of the whole mosaic, or of a
    full-width band of its rows, at the models' pixel size.

    Attributes
    ----------
    image : ndarray, shape (h, w, 3), uint8
        Model image (:func:`core.model_input.to_model_image`) of mosaic rows ``y0 .. y1``,
        resampled by ``zoom``.
    y0, y1 : int
        Mosaic rows it covers.
    mosaic_shape : tuple of int
        ``(H, W)`` of the mosaic.
    zoom : float
        Mosaic pixels per pixel of ``image`` (1 when no resampling was needed).
    """

    image: np.ndarray
    y0: int
    y1: int
    mosaic_shape: tuple[int, int]
    zoom: float = 1.0

    @property
    def whole(self) -> bool:
        return self.y0 == 0 and self.y1 == self.mosaic_shape[0]

    @property
    def rows(self) -> tuple[int, int]:
        return self.y0, self.y1

    def covers(self, y0: float, y1: float) -> bool:
        """Whether mosaic rows ``y0 .. y1`` lie inside the band."""
        return self.y0 <= y0 and y1 <= self.y1

    def holds(self, alignment: Alignment) -> bool:
        """Whether every kept tile of ``alignment`` lies inside these pixels."""
        frame = alignment.frame
        for t in alignment.kept:
            top, left, hh, ww = t.rect
            _, ys = frame.to_source(np.array([left, left + ww, left, left + ww]),
                                    np.array([top, top, top + hh, top + hh]))  # fmt: skip
            if not self.covers(ys.min() - 1, ys.max() + 1):
                return False
        return True


def model_zoom(mosaic: Mosaic) -> float:
    """Mosaic pixels per model pixel (0.123 µm), 1.0 within :data:`ZOOM_TOLERANCE`."""
    zoom = DEFAULT_PIXEL_SIZE_UM / float(mosaic.pixel_size_um)
    return 1.0 if abs(zoom - 1.0) <= ZOOM_TOLERANCE else zoom


def resample(image: np.ndarray, zoom: float) -> np.ndarray:
    """``image`` (H, W, 3) uint8 resampled so one output pixel spans ``zoom`` input pixels.

    Output pixel ``(i, j)`` is centred on input point ``(zoom * (i + 0.5) - 0.5, ...)``;
    Pillow's bilinear filter widens with the reduction, so shrinking is anti-aliased.
    """
    from PIL import Image

    h, w = image.shape[:2]
    out_h, out_w = max(1, int(h / zoom)), max(1, int(w / zoom))
    box = (0.0, 0.0, out_w * zoom, out_h * zoom)
    small = Image.fromarray(np.ascontiguousarray(image)).resize(
        (out_w, out_h), Image.Resampling.BILINEAR, box=box
    )
    return np.asarray(small)


def needs_band(mosaic: Mosaic) -> bool:
    """Whether ``mosaic`` is too large to align whole (see :data:`WHOLE_BYTES`): its
    pixels, their model image and a resampled copy must fit."""
    model_px = mosaic.height * mosaic.width / min(1.0, model_zoom(mosaic)) ** 2
    return mosaic.nbytes + 3 * mosaic.height * mosaic.width + 3 * model_px > WHOLE_BYTES


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
    zoom = model_zoom(mosaic)
    if not needs_band(mosaic):
        _report(progress, 0.0, "reading the image")
        return _working(to_model_image(mosaic.image), 0, h, (h, w), zoom)
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
        found = align(to_model_image(ov), collector=small, surface=edited, scale=scale / zoom)
        collector = collector or _scaled_line(found.collector, scale)
        surface = surface or _scaled_surface(found.surface, scale)
        factor = max(1, round(scale))
    y0, y1 = band_rows((h, w), collector, surface, slack=4 * factor)
    nbytes = _band_bytes(mosaic, (y1 - y0) * w, zoom)
    if nbytes > BAND_BYTES:
        raise RateScopeError(
            f"the coating band to align is {y1 - y0} x {w} px (with its copies "
            f"{gigabytes(nbytes)}), more "
            f"than RateScope's memory budget of {gigabytes(MEMORY_BUDGET_BYTES)}; crop the "
            "mosaic to the electrode",
            mosaic.path,
        )
    _report(progress, 0.7, f"reading rows {y0}-{y1} at full resolution")
    return _working(to_model_image(mosaic.read(y0, y1, 0, w)), y0, y1, (h, w), zoom)


def _band_bytes(mosaic: Mosaic, pixels: int, zoom: float) -> float:
    """Bytes a band of ``pixels`` mosaic pixels takes: as read, its model image (none for
    8-bit RGB, which is used as read) and its resampled copy (only when resampled)."""
    read = pixels * (mosaic.nbytes // max(1, mosaic.height * mosaic.width))
    model = 0 if (mosaic.is_rgb and mosaic.dtype == np.uint8) else 3 * pixels
    resampled = 3 * pixels / zoom**2 if zoom != 1.0 else 0
    return read + model + resampled


def _working(image: np.ndarray, y0: int, y1: int, shape: tuple[int, int], zoom: float) -> Working:
    if zoom != 1.0:
        image = resample(image, zoom)
    return Working(image, y0, y1, shape, zoom)


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
    local = align(
        working.image,
        collector=None if collector is None else _to_working_line(collector, working),
        surface=None if surface is None else _to_working_surface(surface, working),
        thresholds=thresholds,
        overrides=overrides,
    )
    if working.whole and working.zoom == 1.0:
        return local, working
    half = (working.zoom - 1) / 2  # pixel centres of a resampled image
    return local.to_mosaic(working.y0 + half, working.zoom, (*shape, 3), half), working


def extract_working_tiles(
    working: Working, alignment: Alignment, *, kept_only: bool = True
) -> np.ndarray:
    """The alignment's tiles (model images, ``(N, 224, 672, 3)`` uint8) cut from
    ``working``, exactly as :func:`core.align.extract_tiles` cuts them from the whole."""
    frame = working_frame(working, alignment)
    tiles = alignment.kept if kept_only else alignment.tiles
    out = np.zeros((len(tiles), TILE_HEIGHT, TILE_WIDTH, 3), np.uint8)
    for i, t in enumerate(tiles):
        top, left, hh, ww = t.rect
        out[i] = straighten(working.image, frame, rows=(top, top + hh), cols=(left, left + ww))
    return out


def working_frame(working: Working, alignment: Alignment):
    """The alignment's frame for the pixels of ``working`` (same straightened coordinates)."""
    if working.whole and working.zoom == 1.0:
        return alignment.frame
    half = (working.zoom - 1) / 2
    return alignment.frame.in_working(working.y0 + half, working.zoom, working.image.shape, half)


def _still_covers(working: Working, collector, surface) -> bool:
    """Whether ``working`` can be aligned again with these lines (a band must hold them)."""
    lines = [ln for ln in (collector, surface) if ln is not None]
    if working.whole or not lines:
        return True
    ys = [y for ln in lines for y in (ln.y0, ln.y1)]
    return working.covers(min(ys) - EPOXY_MARGIN_PX / 2, max(ys) + FOIL_MARGIN_PX / 2)


def _scaled_line(c: CollectorLine, k: float) -> CollectorLine:
    return CollectorLine(c.x0 * k, c.y0 * k, c.x1 * k, c.y1 * k, c.confidence, c.coating_above)


def _scaled_surface(s: Surface, k: float) -> Surface:
    return Surface(s.x0 * k, s.y0 * k, s.x1 * k, s.y1 * k, [x * k for x in s.xs],
                   [d * k for d in s.depth])  # fmt: skip


def _to_working_line(c: CollectorLine, working: Working) -> CollectorLine:
    """A line in mosaic pixels in the pixels of ``working``."""
    z, y0 = working.zoom, working.y0 + (working.zoom - 1) / 2
    x_off = (working.zoom - 1) / 2
    return CollectorLine((c.x0 - x_off) / z, (c.y0 - y0) / z, (c.x1 - x_off) / z,
                         (c.y1 - y0) / z, c.confidence, c.coating_above)  # fmt: skip


def _to_working_surface(s: Surface, working: Working) -> Surface:
    z, y0 = working.zoom, working.y0 + (working.zoom - 1) / 2
    x_off = (working.zoom - 1) / 2
    return Surface((s.x0 - x_off) / z, (s.y0 - y0) / z, (s.x1 - x_off) / z, (s.y1 - y0) / z,
                   [(x - x_off) / z for x in s.xs], [d / z for d in s.depth])  # fmt: skip


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)
