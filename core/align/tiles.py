"""Tiles of 224 x 672 px along the usable rectangle, each kept or rejected with a reason.

Layout (the paper's centre crop): the rectangle is sliced along the electrode into slices
``TILE_WIDTH`` wide every ``stride_px`` (the run of slices is centred in the rectangle) and
each slice is centre-cropped to ``TILE_HEIGHT`` rows.

Judging works on the straightened gray image at half resolution, with gray levels measured
on the same image (:class:`core.align.surface.Levels`), so it does not depend on the
camera's brightness. The first failing test, in the order of :data:`REASONS`, is the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ratescope.core.align.mount import mount_floor
from ratescope.core.align.rectangle import Rect
from ratescope.core.align.scratches import Segment, find_scratches
from ratescope.core.align.surface import Levels
from ratescope.core.constants import TILE_HEIGHT, TILE_WIDTH

REASONS = ("foil", "epoxy", "void", "scratch", "out of focus")


@dataclass
class Thresholds:
    """Every number the user may change; defaults fit 0.1-0.2 µm/px bright-field mosaics.

    Attributes
    ----------
    margin_foil_px, margin_surface_px : float
        Clearance of the usable rectangle from the collector edge and from the lower
        envelope of the coating surface, px.
    stride_px : int
        Distance between the left edges of neighbouring tiles (``TILE_WIDTH``: no overlap).
    foil_band_fraction : float
        A tile shows foil when some band of 6 rows is at least this bright-as-foil.
    epoxy_probe_px : float
        Mount epoxy (above the coating, not in its pores) is what a probe this wide,
        lowered from above, reaches without touching a grain (:mod:`core.align.mount`).
    epoxy_band_fraction : float
        A tile shows epoxy when more than this share of some band of 24 rows is mount
        epoxy (0: any mount epoxy at all) ...
    epoxy_edge_fraction : float
        ... or more than this share of a 24 x 224 px window on its top edge.
    void_min_diameter_px : float
        A hole clearly darker than the epoxy (an empty pull-out: pores and the mount are
        filled with epoxy) into which a disc this wide fits is a pull-out void.
    scratch_min_length_px, scratch_min_score : float
        A polishing scratch is a straight thin line at least this long (found once over
        the whole band, :mod:`core.align.scratches`) along which at least this share of
        the positions show it; every tile it crosses is rejected.
    scratch_line_contrast : float
        Relative contrast against its sides that the line keeps along its length.
    focus_min_ratio : float
        A tile whose fine detail is below this share of the image's median tile is out of
        focus.
    """

    margin_foil_px: float = 10.0
    margin_surface_px: float = 12.0
    stride_px: int = TILE_WIDTH
    foil_band_fraction: float = 0.9
    epoxy_probe_px: float = 16.0
    epoxy_band_fraction: float = 0.0
    epoxy_edge_fraction: float = 0.0
    void_min_diameter_px: float = 20.0
    scratch_min_length_px: float = 200.0
    scratch_min_score: float = 0.5
    scratch_line_contrast: float = 0.1
    focus_min_ratio: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Thresholds:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        t = cls(**known)
        t.stride_px = int(t.stride_px)
        return t


@dataclass
class Tile:
    """One model input tile.

    Attributes
    ----------
    rect : tuple of int
        ``(top, left, height, width)`` in the straightened image, px.
    auto_keep : bool
        The automatic decision.
    reason : str or None
        Why it was rejected (one of :data:`REASONS`), None when kept.
    metrics : dict
        The measured values the decision was made from.
    override : bool or None
        The user's decision (True keep, False reject), None to follow ``auto_keep``.
    """

    rect: tuple[int, int, int, int]
    auto_keep: bool = True
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    override: bool | None = None

    @property
    def kept(self) -> bool:
        return self.auto_keep if self.override is None else bool(self.override)

    def to_dict(self) -> dict:
        return {
            "rect": list(self.rect),
            "kept": self.kept,
            "auto_keep": self.auto_keep,
            "reason": self.reason,
            "override": self.override,
            "metrics": {k: round(float(v), 4) for k, v in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> Tile:
        return cls(
            tuple(int(v) for v in d["rect"]),
            bool(d["auto_keep"]),
            d.get("reason"),
            dict(d.get("metrics", {})),
            d.get("override"),
        )


def layout_tiles(rect: Rect | None, stride_px: int = TILE_WIDTH) -> list[Tile]:
    """Tile rectangles along ``rect``: centred run of slices, each centre-cropped."""
    if rect is None or rect.width < TILE_WIDTH or rect.height < TILE_HEIGHT:
        return []
    stride = max(int(stride_px), 1)
    n = (rect.width - TILE_WIDTH) // stride + 1
    span = (n - 1) * stride + TILE_WIDTH
    left0 = rect.left + (rect.width - span) // 2
    top = rect.top + (rect.height - TILE_HEIGHT) // 2
    return [Tile((top, left0 + i * stride, TILE_HEIGHT, TILE_WIDTH)) for i in range(n)]


def _band_max(mask: np.ndarray, rows: int) -> float:
    """Largest mean of ``mask`` over ``rows`` consecutive full rows."""
    r = mask.mean(axis=1)
    return float(ndi.uniform_filter1d(r, rows, mode="nearest").max()) if len(r) else 0.0


def judge_tiles(
    band: np.ndarray,
    band_left: int,
    tiles: list[Tile],
    levels: Levels,
    thresholds: Thresholds,
    factor: int = 2,
    scratches: list[Segment] | None = None,
    voids: np.ndarray | None = None,
    mount: np.ndarray | None = None,
) -> list[Tile]:
    """Measure every tile and set ``auto_keep`` / ``reason`` (overrides are kept).

    Parameters
    ----------
    band : ndarray, shape (TILE_HEIGHT // factor, n), float32
        The tiles' rows of the straightened gray image (all tiles share their rows), as
        ``factor`` x ``factor`` block means, gray in [0, 1].
    band_left : int
        Straightened full-resolution column of ``band[:, 0]``'s first pixel.
    tiles : list of Tile
    levels : Levels
    thresholds : Thresholds
    factor : int
        Block size of ``band``.
    scratches : list of Segment, optional
        Scratches found over a taller band (straightened px); default: searched in
        ``band`` itself.
    voids : ndarray, shape of ``band``, optional
        Per pixel, the diameter (px) of the pull-out void it belongs to (or borders on),
        :func:`core.align.defects.void_diameters` over a taller band; default: the largest
        disc that fits in the dark pixels inside each tile.
    mount : ndarray, shape of ``band``, bool, optional
        Pixels of mount epoxy (:func:`core.align.mount.mount_floor`, found from above the
        coating); default: what the probe reaches lowered from the top of ``band``.

    Returns
    -------
    list of Tile
        The same objects, updated.
    """
    if not tiles:
        return tiles
    f = factor
    th = thresholds
    g = np.nan_to_num(band, nan=float(levels.epoxy))
    span = max(levels.solid - levels.epoxy, 1e-3)
    if scratches is None:
        scratches = find_scratches(
            band,
            levels.dark_threshold,
            span,
            factor=f,
            top=tiles[0].rect[0],
            left=band_left,
            min_length_px=th.scratch_min_length_px,
            line_contrast=th.scratch_line_contrast,
            min_coverage=th.scratch_min_score,
        )
    if mount is None:
        floor = mount_floor(band, levels.dark_threshold, f, band.shape[1] * f,
                            probe_px=th.epoxy_probe_px)  # fmt: skip
        mount = np.arange(band.shape[0])[:, None] * f < floor[None, ::f]
    foil_thr = levels.solid + 0.5 * (levels.foil - levels.solid)
    if levels.foil - levels.solid < 0.05:
        foil_thr = levels.epoxy + 0.85 * (levels.foil - levels.epoxy)
    bright = g > foil_thr
    # pull-out voids: empty holes are darker than the epoxy that fills the pores
    if voids is None:
        voids = 2 * f * ndi.distance_transform_edt(g < 0.6 * levels.epoxy)
    detail = np.abs(g - ndi.gaussian_filter(g, 1.0))
    sharp = []
    for t in tiles:
        c0 = (t.rect[1] - band_left) // f
        c1 = c0 + t.rect[3] // f
        sl = (slice(None), slice(c0, c1))
        m = t.metrics
        m["foil_band"] = _band_max(bright[sl], 3)
        m["epoxy_band"] = _band_max(mount[sl], 12)
        top = mount[:12, c0:c1]
        w = top.shape[1] // 3
        m["epoxy_edge"] = max(float(top[:, k * w : (k + 1) * w].mean()) for k in range(3))
        m["void_diameter_px"] = float(voids[sl].max())
        cross = [(s_.crosses(t.rect), s_.coverage) for s_ in scratches]
        cross = [c for c in cross if c[0] > 0]
        m["scratch_score"] = max((c[1] for c in cross), default=0.0)
        m["scratch_length_px"] = max((c[0] for c in cross), default=0.0)
        m["detail"] = float(detail[sl].mean() / span)
        sharp.append(m["detail"])
    ref = float(np.median(sharp))
    for t in tiles:
        m = t.metrics
        m["focus_ratio"] = m["detail"] / ref if ref > 0 else 1.0
        tests = (
            ("foil", m["foil_band"] >= th.foil_band_fraction),
            (
                "epoxy",
                m["epoxy_band"] > th.epoxy_band_fraction
                or m["epoxy_edge"] > th.epoxy_edge_fraction,
            ),
            ("void", m["void_diameter_px"] >= th.void_min_diameter_px),
            ("scratch", m["scratch_length_px"] > 0),
            ("out of focus", m["focus_ratio"] < th.focus_min_ratio),
        )
        t.reason = next((name for name, bad in tests if bad), None)
        t.auto_keep = t.reason is None
    return tiles
