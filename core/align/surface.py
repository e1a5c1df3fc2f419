"""The coating surface: rough (particles stick out into the epoxy), so it is reported as a
mean line plus a lower envelope below which there is no embedding epoxy.

Work happens on the straightened 4 x 4 block-mean image. A pixel is *solid* when it is
clearly brighter than the epoxy (pores hold the same epoxy, so a single row inside the
coating can be dark too); per strip of columns the solid fraction of each row rises from
~0 in the epoxy to the coating's bulk value. Where that fraction first reaches half the bulk
value (coming from the epoxy side) guides a per-column search: the first row of each column
that stays solid is the local surface height (sub-pixel by linear interpolation across the
threshold). A trimmed line fit through the columns is the mean surface; per strip the 75th
percentile of the column heights (narrow pore channels ignored) is the lower envelope.

Only the rows next to the collector are searched (:data:`WINDOW_PX`, thicker than any
coating): in a tall mosaic the coating is a small share of what lies above the collector,
and levels taken over all of it would be the epoxy's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from ratescope.core.align.collector import CollectorLine
from ratescope.core.align.straighten import Frame
from ratescope.core.errors import RateScopeError


@dataclass
class Surface:
    """The coating surface in source pixels.

    Attributes
    ----------
    x0, y0, x1, y1 : float
        End points of the mean surface line (least-squares fit through the per-strip
        surface heights), source pixels, ``x0 < x1``.
    xs : list of float
        Source columns of the strips where the surface was measured (along the line).
    depth : list of float
        Per strip, how far below the mean line (towards the foil, perpendicular to the
        collector, px) epoxy still reaches: the lower envelope is the mean line moved by
        ``depth``. Editing the line moves the envelope with it.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    xs: list[float] = field(default_factory=list)
    depth: list[float] = field(default_factory=list)

    def y_at(self, x):
        """Height of the mean line at source column(s) ``x``."""
        t = (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0)
        return self.y0 + t * (self.y1 - self.y0)

    @property
    def mean_y(self) -> float:
        """Mean height of the line over its columns (source px): the JSON's ``surface_y``."""
        return 0.5 * (self.y0 + self.y1)

    def mean_row(self, frame: Frame, u: np.ndarray) -> np.ndarray:
        """Mean line's straightened row at straightened columns ``u``."""
        su0, sv0 = frame.to_straight(self.x0, self.y0)
        su1, sv1 = frame.to_straight(self.x1, self.y1)
        return sv0 + (np.asarray(u, float) - su0) * (sv1 - sv0) / (su1 - su0)

    def envelope(self, frame: Frame, u: np.ndarray) -> np.ndarray:
        """Lower envelope's straightened row at straightened columns ``u``."""
        v_line = self.mean_row(frame, u)
        if not self.xs:
            return v_line
        su, _ = frame.to_straight(np.asarray(self.xs), self.y_at(np.asarray(self.xs)))
        order = np.argsort(su)
        return v_line + np.interp(u, su[order], np.asarray(self.depth)[order])

    def to_dict(self) -> dict:
        return {
            "x0": self.x0,
            "y0": self.y0,
            "x1": self.x1,
            "y1": self.y1,
            "xs": list(map(float, self.xs)),
            "depth": list(map(float, self.depth)),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Surface:
        return cls(
            float(d["x0"]),
            float(d["y0"]),
            float(d["x1"]),
            float(d["y1"]),
            [float(v) for v in d.get("xs", [])],
            [float(v) for v in d.get("depth", [])],
        )


@dataclass
class Levels:
    """Gray levels (0-1) of the phases, measured on the image; used to judge tiles."""

    epoxy: float
    solid: float
    foil: float
    bulk_solid_fraction: float

    @property
    def dark_threshold(self) -> float:
        return self.epoxy + 0.4 * (self.solid - self.epoxy)


MIN_CONTRAST = 0.1
"""Particles are at least this share of the foil's contrast above the epoxy (the six
appearance families: 0.35 and more; bare epoxy beside a foil: 0.03)."""

WINDOW_PX = 2400
"""Source-pixel rows above the collector that hold the coating (300 µm at 0.123 µm/px,
more than twice the thickest electrode coatings); mosaics up to this height are searched
whole."""


def _first_sustained(mask: np.ndarray, run: int) -> np.ndarray:
    """Per column: first row where ``mask`` holds for ``run`` rows in a row; -1 if none."""
    c = (
        ndi.uniform_filter1d(
            mask.astype(np.float32), run, axis=0, origin=-(run // 2), mode="constant"
        )
        > 1 - 1e-3
    )
    return np.where(c.any(axis=0), np.argmax(c, axis=0), -1)


def detect_surface(
    straight_coarse: np.ndarray,
    frame: Frame,
    line: CollectorLine,
    factor: int,
    *,
    strip: int = 8,
    edge_level: float = 0.2,
    window_px: float = WINDOW_PX,
) -> tuple[Surface, Levels]:
    """Find the coating surface above the collector.

    Parameters
    ----------
    straight_coarse : ndarray, shape (h, w), float32
        The straightened ``factor`` x ``factor`` block-mean gray image (NaN = invalid),
        from :func:`core.align.straighten.straighten_coarse`.
    frame : Frame
        The straightened frame.
    line : CollectorLine
        The collector (its row in the straightened image bounds the search).
    factor : int
        Block size of ``straight_coarse``.
    strip : int
        Strip width in coarse columns.
    edge_level : float
        Where between the epoxy (0) and the particles (1) the boundary is placed.
    window_px : float
        Rows next to the collector searched, in pixels of the image (an overview reduced
        ``k`` times passes ``WINDOW_PX / k``).

    Returns
    -------
    Surface, Levels
    """
    g = straight_coarse
    h, w = g.shape
    half = (factor - 1) / 2.0
    vc = (frame.collector_row(line) - half) / factor
    stop = int(np.floor(vc)) - 1
    if stop < 12:
        raise RateScopeError("no coating found above the collector")
    w0 = max(0, stop - int(np.ceil(window_px / factor)))  # the rows next to the collector
    above = g[w0:stop]
    stop -= w0
    epoxy = float(np.nanpercentile(above, 3))
    solid_level = float(np.nanpercentile(above, 95))
    if not solid_level > epoxy + 0.02:
        raise RateScopeError("no coating found above the collector: no contrast to the epoxy")
    foil_rows = g[int(np.ceil(vc)) + 2 : int(np.ceil(vc)) + 6]
    foil = float(np.nanmedian(foil_rows)) if np.isfinite(foil_rows).any() else solid_level
    if solid_level - epoxy < MIN_CONTRAST * (foil - epoxy):
        share = (solid_level - epoxy) / (foil - epoxy)
        raise RateScopeError(
            "no coating found next to the collector: what lies there is hardly brighter "
            f"than the epoxy ({share:.0%} of the foil's contrast)"
        )
    levels_thr = epoxy + 0.4 * (solid_level - epoxy)
    valid = np.isfinite(above)
    solid = (np.nan_to_num(above, nan=0.0) > levels_thr).astype(np.float32)
    n = w // strip
    cnt = valid[:, : n * strip].reshape(stop, n, strip).sum(axis=2)
    sf = solid[:, : n * strip].reshape(stop, n, strip).sum(axis=2) / np.maximum(cnt, 1)
    sf = ndi.uniform_filter1d(sf, 3, axis=0, mode="nearest")
    usable = cnt[stop - 8 : stop].min(axis=0) >= strip // 2
    profile = np.median(sf[:, usable], axis=1) if usable.any() else np.zeros(stop)
    bulk = float(ndi.uniform_filter1d(profile, 10, mode="nearest").max())
    if bulk < 0.1:
        raise RateScopeError("no coating found above the collector")
    sf_masked = np.where(cnt >= strip // 2, sf, np.nan)
    guide = _first_sustained(np.nan_to_num(sf_masked, nan=1.0) >= 0.5 * bulk, 6)
    ok = usable & (guide > 0)
    if ok.sum() < 3:
        raise RateScopeError("the coating surface could not be found: no epoxy above the coating")
    # per column: first row that stays solid for 3 rows, searched from a little above the
    # strip's guide row (so specks and bubbles high up in the epoxy are ignored)
    gcol = np.repeat(np.where(ok, guide, np.median(guide[ok])), strip)
    start = np.clip(gcol - 25, 1, stop - 1)
    rows = np.arange(stop)[:, None]
    sol = solid[:, : n * strip] > 0
    sus = sol & np.roll(sol, -1, axis=0) & np.roll(sol, -2, axis=0)
    sus &= rows >= start[None, :]
    first = np.where(sus.any(axis=0), np.argmax(sus, axis=0), stop - 1)
    cols = np.arange(n * strip)
    val = np.nan_to_num(above[:, : n * strip], nan=0.0)
    # the boundary itself: climb while the row above is still clearly above the epoxy
    # (binder on top of the particles is darker than they are but is coating too)
    edge_thr = epoxy + edge_level * (solid_level - epoxy)
    for _ in range(3):
        first = first - ((first > 1) & (val[np.maximum(first - 1, 0), cols] > edge_thr))
    g_hi, g_lo = val[first, cols], val[first - 1, cols]
    frac = np.clip((edge_thr - g_lo) / np.maximum(g_hi - g_lo, 1e-6), 0, 1)
    top_col = (w0 + first - 1 + frac) * factor + half  # full-res straightened rows
    col_ok = np.repeat(ok, strip) & valid[np.clip(first, 0, stop - 1), cols]
    u_col = cols * factor + half
    vv = ndi.median_filter(top_col, 9, mode="nearest")
    b, a = np.polyfit(u_col[col_ok], vv[col_ok], 1)
    for _ in range(3):  # slope from the bulk of columns
        r = top_col - (a + b * u_col)
        s_ = 1.4826 * np.median(np.abs(r[col_ok])) + 1.0
        keep = col_ok & (np.abs(r) < 2.5 * s_)
        b, a = np.polyfit(u_col[keep], top_col[keep], 1)
    # a coating is as thick at one end of the field as at the other: the mean surface
    # is parallel to the collector (a tilt fitted to a rough surface is mostly noise)
    b = 0.0
    # the mean height counts the deep valleys too: only gross outliers are left out
    r = top_col[col_ok] - b * u_col[col_ok]
    lo, hi = np.percentile(r, [0.5, 99.5])
    a = float(np.mean(r[(r >= lo) & (r <= hi)]))
    u_strip = (np.arange(n) * strip + (strip - 1) / 2.0) * factor + half
    deep = np.percentile(np.where(col_ok, top_col, a + b * u_col).reshape(n, strip), 75, axis=1)
    depth = np.maximum(deep - (a + b * u_strip), 0.0)
    depth = ndi.maximum_filter1d(np.where(ok, depth, 0.0), 3)
    u_end = np.array([0.0, frame.shape[1] - 1.0])
    x, y = frame.to_source(u_end, a + b * u_end)
    slope = (y[1] - y[0]) / (x[1] - x[0])
    x_end = np.array([0.0, frame.shape[1] - 1.0])
    y_end = y[0] + slope * (x_end - x[0])
    xs, _ = frame.to_source(u_strip, a + b * u_strip)
    surface = Surface(
        0.0,
        float(y_end[0]),
        float(x_end[1]),
        float(y_end[1]),
        [float(v) for v in xs[ok]],
        [float(d) for d in depth[ok]],
    )
    return surface, Levels(epoxy, solid_level, foil, bulk)
