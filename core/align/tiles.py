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
from skimage.transform import hough_line

from core.align.rectangle import Rect
from core.align.surface import Levels
from core.constants import TILE_HEIGHT, TILE_WIDTH

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
    epoxy_band_fraction : float
        A tile shows epoxy when some band of 24 rows is at least this dark.
    epoxy_edge_fraction : float
        ... or when a 24 x 224 px window on its top edge is at least this dark.
    void_min_diameter_px : float
        A hole clearly darker than the epoxy (an empty pull-out: pores and the mount are
        filled with epoxy) into which a disc this wide fits is a pull-out void.
    scratch_min_length_px, scratch_min_score : float
        A straight line through at least this length of the tile that runs along thin
        dark or bright ridges for at least this share of its length is a scratch.
    focus_min_ratio : float
        A tile whose fine detail is below this share of the image's median tile is out of
        focus.
    """

    margin_foil_px: float = 10.0
    margin_surface_px: float = 12.0
    stride_px: int = TILE_WIDTH
    foil_band_fraction: float = 0.9
    epoxy_band_fraction: float = 0.98
    epoxy_edge_fraction: float = 0.98
    void_min_diameter_px: float = 20.0
    scratch_min_length_px: float = 120.0
    scratch_min_score: float = 0.75
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
        return {"rect": list(self.rect), "kept": self.kept, "auto_keep": self.auto_keep,
                "reason": self.reason, "override": self.override,
                "metrics": {k: round(float(v), 4) for k, v in self.metrics.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Tile:
        return cls(tuple(int(v) for v in d["rect"]), bool(d["auto_keep"]), d.get("reason"),
                   dict(d.get("metrics", {})), d.get("override"))


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


def _ridges(g: np.ndarray, contrast: float, d: int = 3) -> np.ndarray:
    """Thin lines: pixels darker (or brighter) than both sides at ``d`` px across them.

    A step edge is not a ridge (one side is darker, one brighter), so particle outlines
    give few responses while a polishing scratch does along its whole length.
    """
    c = g[d:-d, d:-d]
    best = np.zeros(c.shape, np.float32)
    for dy, dx in ((0, d), (d, 0), (d, d), (d, -d)):
        a = g[d + dy: g.shape[0] - d + dy, d + dx: g.shape[1] - d + dx]
        b = g[d - dy: g.shape[0] - d - dy, d - dx: g.shape[1] - d - dx]
        r = np.maximum(np.minimum(a, b) - c, c - np.maximum(a, b))
        np.maximum(best, r, out=best)
    out = np.zeros(g.shape, bool)
    out[d:-d, d:-d] = best > contrast
    return out


def block_max(mask: np.ndarray, f: int) -> np.ndarray:
    """Any-true over ``f`` x ``f`` blocks (ragged edges dropped)."""
    h, w = (mask.shape[0] // f) * f, (mask.shape[1] // f) * f
    return mask[:h, :w].reshape(h // f, f, w // f, f).any(axis=(1, 3))


_THETA = np.linspace(-np.pi / 2, np.pi / 2, 90, endpoint=False)


def _line_score(ridge: np.ndarray, length: np.ndarray, min_len: float) -> tuple[float, float]:
    """How much the strongest straight line stands out of the ridge clutter.

    ``length`` is the Hough transform of an all-true image (each line's length inside the
    tile). Returns the z-score of the best line against the tile's ridge density and the
    number of ridge pixels on it.
    """
    if ridge.sum() < 10:
        return 0.0, 0.0
    acc, _, _ = hough_line(ridge, theta=_THETA)
    frac = np.where(length >= min_len, acc / np.maximum(length, 1.0), 0.0)
    k = np.unravel_index(int(np.argmax(frac)), frac.shape)
    return float(frac[k]), float(acc[k])


def judge_tiles(band: np.ndarray, band_left: int, tiles: list[Tile], levels: Levels,
                thresholds: Thresholds, factor: int = 2) -> list[Tile]:
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

    Returns
    -------
    list of Tile
        The same objects, updated.
    """
    if not tiles:
        return tiles
    f = factor
    g = np.nan_to_num(band, nan=float(levels.epoxy))
    span = max(levels.solid - levels.epoxy, 1e-3)
    dark = g < levels.epoxy + 0.12 * span
    foil_thr = levels.solid + 0.5 * (levels.foil - levels.solid)
    if levels.foil - levels.solid < 0.05:
        foil_thr = levels.epoxy + 0.85 * (levels.foil - levels.epoxy)
    bright = g > foil_thr
    # pull-out voids: empty holes are darker than the epoxy that fills the pores
    radius = ndi.distance_transform_edt(g < 0.6 * levels.epoxy) * f
    ridge = _ridges(g, 0.12 * span, d=2)
    detail = np.abs(g - ndi.gaussian_filter(g, 1.0))
    ones = np.ones((g.shape[0], TILE_WIDTH // f), bool)
    length = hough_line(ones, theta=_THETA)[0]
    sharp = []
    for t in tiles:
        c0 = (t.rect[1] - band_left) // f
        c1 = c0 + t.rect[3] // f
        sl = (slice(None), slice(c0, c1))
        m = t.metrics
        m["foil_band"] = _band_max(bright[sl], 3)
        m["epoxy_band"] = _band_max(dark[sl], 12)
        top = dark[:12, c0:c1]
        w = top.shape[1] // 3
        m["epoxy_edge"] = max(float(top[:, k * w:(k + 1) * w].mean()) for k in range(3))
        m["void_diameter_px"] = float(2 * radius[sl].max())
        z, votes = _line_score(ridge[sl], length, thresholds.scratch_min_length_px / f)
        m["scratch_score"], m["scratch_length_px"] = z, votes * f
        m["detail"] = float(detail[sl].mean() / span)
        sharp.append(m["detail"])
    ref = float(np.median(sharp))
    th = thresholds
    for t in tiles:
        m = t.metrics
        m["focus_ratio"] = m["detail"] / ref if ref > 0 else 1.0
        tests = (
            ("foil", m["foil_band"] >= th.foil_band_fraction),
            ("epoxy", m["epoxy_band"] >= th.epoxy_band_fraction
             or m["epoxy_edge"] >= th.epoxy_edge_fraction),
            ("void", m["void_diameter_px"] >= th.void_min_diameter_px),
            ("scratch", m["scratch_score"] >= th.scratch_min_score),
            ("out of focus", m["focus_ratio"] < th.focus_min_ratio),
        )
        t.reason = next((name for name, bad in tests if bad), None)
        t.auto_keep = t.reason is None
    return tiles
