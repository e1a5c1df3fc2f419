"""The alignment pipeline and its one result object.

``align(image)`` runs collector -> straightened frame -> surface -> rectangle -> tiles and
returns an :class:`Alignment` that holds everything needed to reproduce the crop exactly.
Edits re-run the downstream steps: ``align(image, collector=edited_line)`` or
``align(image, collector=..., surface=edited_surface)``; toggling a tile is
``alignment.tiles[i].override = False`` (no recomputation needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from ratescope.core.align.collector import CollectorLine, detect_collector
from ratescope.core.align.mount import mount_floor
from ratescope.core.align.prepare import GrayPyramid
from ratescope.core.align.rectangle import Rect, largest_rectangle
from ratescope.core.align.scratches import Segment
from ratescope.core.align.straighten import Frame, straighten, straighten_coarse
from ratescope.core.align.surface import WINDOW_PX, Levels, Surface, detect_surface
from ratescope.core.align.tile_band import judge_band
from ratescope.core.align.tiles import Thresholds, Tile, layout_tiles
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH
from ratescope.core.errors import RateScopeError

FORMAT = "ratescope-alignment"
VERSION = 1
FACTOR = 4
"""Block size of the coarse image the surface is searched on."""


@dataclass
class Alignment:
    """Everything that defines the crop of one mosaic.

    Attributes
    ----------
    image_shape : tuple of int
        Shape of the source image, ``(H, W)`` or ``(H, W, C)``.
    collector : CollectorLine
        Collector edge facing the coating, source px.
    surface : Surface
        Mean coating-surface line and its lower envelope, source px.
    rect : Rect or None
        Largest usable rectangle in the straightened image (None: none fits a tile).
    tiles : list of Tile
        Tile rectangles in the straightened image with decisions and user overrides.
    thresholds : Thresholds
    levels : Levels
        Gray levels of epoxy, solid and foil measured on the image (for the record).
    extra : dict
        ``"scratches"``: list of :class:`core.align.scratches.Segment` found (straightened
        px), shown to the user; saved in the JSON as ``"scratches"``.
    """

    image_shape: tuple[int, ...]
    collector: CollectorLine
    surface: Surface
    rect: Rect | None
    tiles: list[Tile]
    thresholds: Thresholds
    levels: Levels
    extra: dict = field(default_factory=dict)
    centre: tuple[float, float] | None = None
    straight_centre: tuple[float, float] | None = None
    zoom: float = 1.0

    @property
    def frame(self) -> Frame:
        """The straightened frame: rotation about :attr:`centre` (default the image
        centre) onto :attr:`straight_centre`, flip if needed, :attr:`zoom` source pixels
        per straightened pixel (1 unless the mosaic was resampled to the models' size)."""
        return Frame.from_line(self.collector, self.image_shape, self.centre,
                               self.straight_centre, self.zoom)  # fmt: skip

    def to_mosaic(
        self, y0: float, zoom: float, shape: tuple[int, ...], x0: float = 0.0
    ) -> Alignment:
        """This alignment, made on pixels whose point ``(x, y)`` is mosaic point
        ``(x0 + zoom x, y0 + zoom y)`` (a band of rows, resampled), expressed in the mosaic
        (of ``shape``).

        The lines move to mosaic pixels; the straightened coordinates (tiles, rectangle,
        scratches) stay as they are, so the tiles cut are the same pixels.
        """
        f = self.frame.to_mosaic(y0, zoom, shape, x0)
        c, s = self.collector, self.surface
        z = zoom
        line = CollectorLine(c.x0 * z + x0, c.y0 * z + y0, c.x1 * z + x0, c.y1 * z + y0,
                             c.confidence, c.coating_above)  # fmt: skip
        surface = Surface(s.x0 * z + x0, s.y0 * z + y0, s.x1 * z + x0, s.y1 * z + y0,
                          [x * z + x0 for x in s.xs], [d * z for d in s.depth])  # fmt: skip
        centre = (f.cx, f.cy)
        return replace(self, image_shape=tuple(shape), collector=line, surface=surface,
                       tiles=[replace(t, metrics=dict(t.metrics)) for t in self.tiles],
                       extra=dict(self.extra), centre=centre,
                       straight_centre=None if f.ucentre == centre else f.ucentre,
                       zoom=f.zoom)  # fmt: skip

    @property
    def angle_deg(self) -> float:
        return self.collector.angle_deg

    @property
    def surface_y(self) -> float:
        """Mean height of the coating surface, source px."""
        return self.surface.mean_y

    def coating_thickness_px(self) -> float:
        """Mean distance from the coating surface to the collector edge, in mosaic pixels
        (perpendicular to the collector)."""
        f = self.frame
        s = self.surface
        _, v = f.to_straight(np.array([s.x0, s.x1]), np.array([s.y0, s.y1]))
        return float(abs(f.collector_row(self.collector) - v.mean()) * f.zoom)

    @property
    def kept(self) -> list[Tile]:
        return [t for t in self.tiles if t.kept]

    def to_dict(self) -> dict:
        c, f = self.collector, self.frame
        return {
            "format": FORMAT,
            "version": VERSION,
            "image_shape": list(self.image_shape),
            "angle_deg": c.angle_deg,
            "collector": [[c.x0, c.y0], [c.x1, c.y1]],
            "collector_confidence": c.confidence,
            "coating_above": c.coating_above,
            "surface_y": self.surface_y,
            "surface": self.surface.to_dict(),
            "straightening": {
                "centre": [f.cx, f.cy],
                "straight_centre": list(f.ucentre),
                "zoom": f.zoom,
                "rotation_deg": c.angle_deg,
                "flip_vertical": f.flip,
                "interpolation": "bilinear (order 1)",
                "collector_row": f.collector_row(c),
            },
            "rectangle": None if self.rect is None else list(self.rect.as_tuple()),
            "tile_size": [TILE_HEIGHT, TILE_WIDTH],
            "tiles": [t.to_dict() for t in self.tiles],
            "scratches": [sg.to_dict() for sg in self.extra.get("scratches", [])],
            "thresholds": self.thresholds.to_dict(),
            "levels": vars(self.levels).copy(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> Alignment:
        if d.get("format") != FORMAT:
            raise RateScopeError("not a RateScope alignment (missing 'format' key)")
        (x0, y0), (x1, y1) = d["collector"]
        line = CollectorLine(
            float(x0),
            float(y0),
            float(x1),
            float(y1),
            float(d.get("collector_confidence", 1.0)),
            bool(d.get("coating_above", True)),
        )
        rect = None if d.get("rectangle") is None else Rect(*map(int, d["rectangle"]))
        return cls(
            tuple(int(v) for v in d["image_shape"]),
            line,
            Surface.from_dict(d["surface"]),
            rect,
            [Tile.from_dict(t) for t in d["tiles"]],
            Thresholds.from_dict(d["thresholds"]),
            Levels(**d["levels"]),
            {"scratches": [Segment(**sg) for sg in d.get("scratches", [])]},
            *_frame_fields(d),
        )

    @classmethod
    def from_json(cls, text: str) -> Alignment:
        return cls.from_dict(json.loads(text))


def _frame_fields(d: dict) -> tuple:
    """``(centre, straight_centre, zoom)`` saved in an alignment dict (None, None, 1.0:
    the image centre, unzoomed, as every alignment made on a whole image)."""
    st = d.get("straightening") or {}
    h, w = (int(v) for v in d["image_shape"][:2])
    image_centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    centre = tuple(float(v) for v in st["centre"]) if st.get("centre") else image_centre
    straight = tuple(float(v) for v in st.get("straight_centre") or centre)
    return (
        None if centre == image_centre else centre,
        None if straight == centre else straight,
        float(st.get("zoom", 1.0)),
    )


def usable_rectangle(
    frame: Frame,
    collector: CollectorLine,
    surface: Surface,
    thresholds: Thresholds,
    step: int = FACTOR,
) -> Rect | None:
    """Largest rectangle between the surface envelope and the collector, inside the image:
    the most tiles (at ``thresholds.stride_px``), then the tallest.

    Parameters
    ----------
    step : int
        Column granularity (px) of the rectangle's sides.
    """
    h, w = frame.shape
    n = w // step
    u = np.arange(n * step, dtype=float).reshape(n, step)
    vmin, vmax = frame.valid_rows(u)
    env = surface.envelope(frame, u).max(axis=1)
    top = np.maximum(env + thresholds.margin_surface_px, vmin.max(axis=1))
    # the edge lies half a pixel above the first foil row's centre
    bottom = np.minimum(
        frame.collector_row(collector) - 0.5 - thresholds.margin_foil_px, vmax.min(axis=1)
    )
    return largest_rectangle(
        top,
        bottom,
        step=step,
        min_height=TILE_HEIGHT,
        tile_width=TILE_WIDTH,
        stride=thresholds.stride_px,
    )


def align(
    image: np.ndarray,
    *,
    collector: CollectorLine | None = None,
    surface: Surface | None = None,
    thresholds: Thresholds | None = None,
    overrides: dict[int, bool] | None = None,
    scale: float = 1.0,
) -> Alignment:
    """Find the collector and surface, straighten, crop and judge the tiles.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, 3)
        The mosaic, uint8/uint16/float32, gray or RGB, in source pixels.
    collector : CollectorLine, optional
        Use this (e.g. user-edited) line instead of detecting one.
    surface : Surface, optional
        Use this (e.g. user-edited) surface instead of detecting one; a surface without
        per-strip ``depth`` means "usable from this line down".
    thresholds : Thresholds, optional
        Margins, stride and tile tests (defaults: :class:`Thresholds`).
    overrides : dict of int to bool, optional
        User decisions per tile index.
    scale : float
        Mosaic pixels per pixel of ``image`` (an overview's reduction), so that distances
        fixed in mosaic pixels (the surface search window) keep their meaning.

    Returns
    -------
    Alignment

    Raises
    ------
    RateScopeError
        When no collector (or no coating) can be found.

    Examples
    --------
    >>> from ratescope.core.synth.mosaic import generate_mosaic
    >>> image = generate_mosaic(1, height=1000, width=3000, rgb=False).image
    >>> a = align(image)
    >>> extract_tiles(image, a).shape[1:]                   # (N, 224, 672[, 3])
    (224, 672)
    >>> Alignment.from_json(a.to_json()).rect == a.rect     # same crop
    True
    """
    th = thresholds or Thresholds()
    pyr = GrayPyramid(image)
    half, coarse = pyr.half, pyr.quarter
    line = collector or detect_collector(image, factor=FACTOR, pyramid=pyr)
    frame = Frame.from_line(line, pyr.shape)
    straight = straighten_coarse(coarse, frame, FACTOR)
    found, levels = detect_surface(straight, frame, line, FACTOR, window_px=WINDOW_PX / scale)
    surf = surface or found
    rect = usable_rectangle(frame, line, surf, th)
    tiles = layout_tiles(rect, th.stride_px)
    scratches: list[Segment] = []
    if tiles:
        floor = mount_floor(
            straight, levels.dark_threshold, FACTOR, frame.shape[1], probe_px=th.epoxy_probe_px
        )
        scratches = judge_band(half, frame, rect, tiles, levels, th, floor)
    for i, keep in (overrides or {}).items():
        if 0 <= int(i) < len(tiles):
            tiles[int(i)].override = bool(keep)
    return Alignment(
        tuple(image.shape), line, surf, rect, tiles, th, levels, {"scratches": scratches}
    )


def extract_tiles(
    image: np.ndarray, alignment: Alignment, *, kept_only: bool = True, order: int = 1
) -> np.ndarray:
    """Cut the tiles out of the straightened image.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        The same source image the alignment was made on.
    alignment : Alignment
    kept_only : bool
        Only tiles that are kept (default), else all.
    order : int
        Interpolation order (1 = bilinear, as the decisions were made on).

    Returns
    -------
    ndarray, shape (N, 224, 672) or (N, 224, 672, C), the image's dtype
    """
    if tuple(image.shape) != tuple(alignment.image_shape):
        raise RateScopeError(
            f"the alignment was made on a {alignment.image_shape} image, not {tuple(image.shape)}"
        )
    frame = alignment.frame
    tiles = alignment.kept if kept_only else alignment.tiles
    out = np.zeros((len(tiles), TILE_HEIGHT, TILE_WIDTH) + tuple(image.shape[2:]), image.dtype)
    for i, t in enumerate(tiles):
        top, left, hh, ww = t.rect
        out[i] = straighten(image, frame, rows=(top, top + hh), cols=(left, left + ww), order=order)
    return out
