"""Background work of the alignment view (no Qt): the edit state, align, the preview.

Everything here runs in a worker thread through the window's runner. The GUI keeps an
:class:`EditState` (what the user has changed) and asks :func:`run_alignment` for the
:class:`AlignResult` of it; results are cached by their geometry so undo is instant.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field, replace

import numpy as np

from ratescope.core.align import Alignment, CollectorLine, Surface, Thresholds
from ratescope.core.align.band import (
    Working,
    align_mosaic,
    extract_working_tiles,
    working_frame,
    working_image,
)
from ratescope.core.align.prepare import block_mean
from ratescope.core.align.straighten import straighten_coarse
from ratescope.core.io.mosaic import Mosaic

PREVIEW_MAX_WIDTH = 2000
"""The straightened preview is block-averaged to about this many pixels across."""
PREVIEW_MARGIN_PX = 40
"""Rows of epoxy above the surface and of foil below the collector in the preview."""


@dataclass(frozen=True)
class EditState:
    """What the user has decided; None fields mean "detect automatically".

    Attributes
    ----------
    collector : CollectorLine or None
        Edited or hand-drawn collector line (source px).
    surface : Surface or None
        Edited coating-surface line (source px).
    thresholds : Thresholds
    overrides : tuple of (int, bool)
        User keep/reject decisions per tile index.
    """

    collector: CollectorLine | None = None
    surface: Surface | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    overrides: tuple[tuple[int, bool], ...] = ()

    @property
    def geometry_key(self) -> str:
        """Identifies the inputs of :func:`align` (the overrides need no re-run)."""
        return json.dumps(
            [
                None if self.collector is None else self.collector.to_dict(),
                None if self.surface is None else self.surface.to_dict(),
                self.thresholds.to_dict(),
            ],
            sort_keys=True,
        )

    def with_override(self, index: int, keep: bool | None) -> EditState:
        kept = {i: k for i, k in self.overrides if i != index}
        if keep is not None:
            kept[index] = keep
        return replace(self, overrides=tuple(sorted(kept.items())))


@dataclass
class Preview:
    """The straightened band shown under the tiles.

    Attributes
    ----------
    image : ndarray, shape (h, w) or (h, w, 3), uint8
        Block means of the straightened image, scaled for display.
    top, left, scale : float
        Straightened full-resolution position of ``image[0, 0]``'s corner and the
        full-resolution pixels per preview pixel.
    """

    image: np.ndarray
    top: float
    left: float
    scale: float


@dataclass
class AlignResult:
    """:func:`align`'s answer for one state, with its preview (overrides not applied)."""

    key: str
    alignment: Alignment
    preview: Preview

    def for_state(self, state: EditState) -> Alignment:
        """A copy of the alignment with the state's overrides applied."""
        out = copy.deepcopy(self.alignment)
        for i, keep in state.overrides:
            if 0 <= i < len(out.tiles):
                out.tiles[i].override = keep
        return out


class Source:
    """The mosaic and the pixels its alignment is made on, read in a worker and kept.

    A mosaic that fits :data:`core.align.band.WHOLE_BYTES` is held whole (as the models'
    RGB); a larger one only as the full-resolution band around its coating
    (:mod:`core.align.band`), read again when an edit moves the lines out of it.
    Jobs never run at the same time for one source (the view waits for one to land
    before it starts the next), so the lazy reads need no lock.
    """

    def __init__(self, mosaic: Mosaic):
        self.mosaic = mosaic
        self.working: Working | None = None
        self._coarse: tuple[int, list[np.ndarray]] | None = None
        self.factor = max(1, math.ceil(mosaic.width / PREVIEW_MAX_WIDTH))

    def align(self, state: EditState, line: CollectorLine | None) -> Alignment:
        """:func:`core.align.band.align_mosaic` for the state (``line``: its collector)."""
        before = self.working
        alignment, self.working = align_mosaic(
            self.mosaic,
            collector=line,
            surface=state.surface,
            thresholds=state.thresholds,
            working=self.working,
        )
        if self.working is not before:
            self._coarse = None
        return alignment

    def tiles(self, alignment: Alignment) -> np.ndarray:
        """The kept tiles of ``alignment`` as model images (N, 224, 672, 3) uint8."""
        if self.working is None or not self.working.holds(alignment):
            self.working = working_image(self.mosaic, alignment.collector, alignment.surface)
            self._coarse = None
        return extract_working_tiles(self.working, alignment)

    @property
    def coarse(self) -> list[np.ndarray]:
        """Per channel, ``factor`` x ``factor`` block means of the working pixels."""
        assert self.working is not None
        if self._coarse is None or self._coarse[0] != id(self.working):
            img = self.working.image
            planes = [img[..., k] for k in range(img.shape[2])]
            self._coarse = (id(self.working), [block_mean(p, self.factor) for p in planes])
        return self._coarse[1]


def run_alignment(source: Source, state: EditState) -> AlignResult:
    """Align ``source`` as ``state`` says and straighten the preview band.

    Raises
    ------
    NoCollectorFound
        When the state has no collector and none is detected.
    RateScopeError
        When no coating is found, or the image cannot be read.
    """
    alignment = source.align(state, state.collector)
    return AlignResult(state.geometry_key, alignment, straight_preview(source, alignment))


def straight_preview(source: Source, alignment: Alignment) -> Preview:
    """Straightened band from above the coating surface to below the collector."""
    f = source.factor
    frame = working_frame(source.working, alignment)  # the alignment's straightened coords
    h = frame.shape[0]
    s, mosaic_frame = alignment.surface, alignment.frame
    _, v_surface = mosaic_frame.to_straight(np.array([s.x0, s.x1]), np.array([s.y0, s.y1]))
    v_top = min(float(np.min(v_surface)), alignment.rect.top if alignment.rect else h)
    v_foil = mosaic_frame.collector_row(alignment.collector)
    r0 = int(np.clip((v_top - PREVIEW_MARGIN_PX) // f, 0, h // f - 1))
    r1 = int(np.clip(-(-(v_foil + PREVIEW_MARGIN_PX) // f), r0 + 1, h // f))
    planes = [straighten_coarse(p, frame, f, rows=(r0, r1)) for p in source.coarse]
    band = np.stack(planes, axis=-1) if len(planes) > 1 else planes[0]
    return Preview(_for_display(band), r0 * f, 0.0, float(f))


def _for_display(band: np.ndarray) -> np.ndarray:
    """uint8 with a robust contrast stretch; invalid (NaN) pixels black."""
    valid = np.isfinite(band)
    if not valid.any():
        return np.zeros(band.shape, np.uint8)
    lo, hi = np.percentile(band[valid], [0.2, 99.8])
    scaled = (np.nan_to_num(band, nan=lo) - lo) * (255.0 / max(hi - lo, 1e-6))
    return np.clip(scaled, 0, 255).astype(np.uint8)
