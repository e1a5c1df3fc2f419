"""Polishing scratches: long, thin, straight lines found once over the whole coating band.

A scratch left by polishing is a groove (darker) or a smear (brighter) 1-4 px wide that runs
straight across grains, binder and epoxy-filled pores alike, at one angle, for far longer
than a particle is wide. Its contrast is multiplicative (a groove darkens whatever it
crosses by a similar *share*), so the detector works on relative contrast:

1. *ridge pixels*: on the straightened, 2 x 2 block-mean gray image, a pixel is a ridge
   pixel when it is darker (or brighter) than both of its neighbours ``d`` px away across
   one of four directions by a share of their level; a step edge (particle outline) is
   darker on one side only and gives no response. The direction of the strongest response
   is the line's normal within +-22.5 degrees;
2. *oriented Hough vote*: every ridge pixel votes, weighted by its contrast, for the lines
   through it whose normal lies within its direction bin; clutter (cracks inside a grain,
   gaps between touching grains, carbon flakes) is short and at random angles and spreads
   its votes, a scratch stacks its votes on one line;
3. *verification along the line*: for each of the strongest candidate lines the ridge
   hits along it are read back; the longest stretch where most positions are hits is the
   scratch segment. It must be long and densely covered.

The result is a list of segments in straightened full-resolution pixels; a tile is
rejected when a segment crosses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

_DIRS = ((0, 1), (1, 0), (1, 1), (1, -1))
"""Across-line directions (dy, dx) of the four ridge tests."""
_NORMALS = (0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4)
"""Normal angle ``theta`` (``rho = x cos theta + y sin theta``) of each direction's lines."""


@dataclass(frozen=True)
class Segment:
    """A straight scratch segment in straightened full-resolution pixels.

    Attributes
    ----------
    u0, v0, u1, v1 : float
        End points (column, row).
    coverage : float
        Share of the positions along the segment where the line is seen as a thin ridge.
    contrast : float
        Median relative contrast of those positions (negative: a dark groove).
    """

    u0: float
    v0: float
    u1: float
    v1: float
    coverage: float
    contrast: float

    @property
    def length(self) -> float:
        return math.hypot(self.u1 - self.u0, self.v1 - self.v0)

    def to_dict(self) -> dict:
        return {
            k: round(float(getattr(self, k)), 3)
            for k in ("u0", "v0", "u1", "v1", "coverage", "contrast")
        }

    def crosses(self, rect: tuple[int, int, int, int], margin: float = 4.0) -> float:
        """Length (px) of the segment inside ``rect`` = ``(top, left, height, width)``
        grown by ``margin``."""
        top, left, h, w = rect
        lo = np.array([left - margin, top - margin])
        hi = np.array([left + w + margin, top + h + margin])
        p = np.array([self.u0, self.v0])
        d = np.array([self.u1 - self.u0, self.v1 - self.v0])
        t0, t1 = 0.0, 1.0
        for k in range(2):
            if abs(d[k]) < 1e-12:
                if not lo[k] <= p[k] <= hi[k]:
                    return 0.0
                continue
            a, b = (lo[k] - p[k]) / d[k], (hi[k] - p[k]) / d[k]
            t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        return max(t1 - t0, 0.0) * self.length


def ridge_response(
    g: np.ndarray,
    solid_level: float,
    span: float,
    *,
    d: int = 2,
    dark_min: float = 0.18,
    bright_min: float = 0.1,
    smear_min: float = 0.3,
    groove_min: float = 0.2,
):
    """Thin-line score per pixel (>= 1: a line pixel) and its direction bin.

    A pixel is compared with its two neighbours ``d`` px away across each of four
    directions (lo, hi: the darker and the brighter of the two):

    * groove: ``(lo - c) / (dark_min * lo + groove_min * span / 20) >= 1``: a share of the
      grain's level across a grain, a weak contrast in the dark epoxy (there the votes of
      a scratch add up along it, the texture's do not);
    * smear: ``(c - hi) / max(bright_min * hi, smear_min * span) >= 1``.

    A step edge (particle outline) has one darker and one brighter side and never scores.

    Parameters
    ----------
    g : ndarray, shape (h, w), float32
    solid_level : float
        Gray level above which a pixel is grain (kept for the caller's symmetry; the
        tests above need no grain mask).
    span : float
        Grain minus epoxy gray level.
    d : int
        Distance (px) of the neighbours across the line.

    Returns
    -------
    score : ndarray, float32
        Largest ratio of contrast to its threshold over the four directions (0 at the
        border); positive for bright lines, negative for dark ones.
    which : ndarray, int8
        Direction bin of the line's normal (index into the four directions): the
        direction perpendicular to the one across which the pixel shows least contrast.
    """
    h, w = g.shape
    dark_floor = np.float32(span / 20.0 * groove_min)
    smear = np.float32(span * smear_min)
    c = g[d : h - d, d : w - d]
    best = np.zeros(c.shape, np.float32)
    sign = np.zeros(c.shape, bool)
    least = np.full(c.shape, np.inf, np.float32)
    which = np.zeros(c.shape, np.int8)
    for k, (dy, dx) in enumerate(_DIRS):
        a = g[d + dy * d : h - d + dy * d, d + dx * d : w - d + dx * d]
        b = g[d - dy * d : h - d - dy * d, d - dx * d : w - d - dx * d]
        lo = np.minimum(a, b)
        hi = np.maximum(a, b)
        # dark: relative to the sides' level (grain), with a floor for the dark epoxy
        dark = lo - c
        lo *= np.float32(dark_min)
        lo += dark_floor
        dark /= lo
        # bright: relative to the sides' level, at least a share of grain-epoxy contrast
        bright = c - hi
        hi *= np.float32(bright_min)
        np.maximum(hi, smear, out=hi)
        bright /= hi
        is_dark = dark > bright
        mag = np.maximum(dark, bright, out=dark)
        upd = mag > best
        np.copyto(best, mag, where=upd)
        np.copyto(sign, is_dark, where=upd)
        # the direction *along* the line is the one across which it shows least
        np.abs(mag, out=mag)
        upd = mag < least
        np.copyto(least, mag, where=upd)
        which[upd] = k ^ 1
    best[sign] *= -1
    score = np.zeros((h, w), np.float32)
    score[d : h - d, d : w - d] = best
    wh = np.zeros((h, w), np.int8)
    wh[d : h - d, d : w - d] = which
    return score, wh


def _hough(ys, xs, ks, wts, shape, dtheta, drho):
    """Weighted Hough accumulator; each point votes only within its direction bin."""
    h, w = shape
    n_theta = int(round(math.pi / dtheta))
    thetas = np.arange(n_theta) * dtheta
    rmax = math.hypot(h, w)
    n_rho = int(2 * rmax / drho) + 2
    acc = np.zeros(n_theta * n_rho, np.float64)
    half = int(math.ceil((math.pi / 8 + math.radians(3)) / dtheta))
    for k, centre in enumerate(_NORMALS):
        sel = ks == k
        if not sel.any():
            continue
        x, y, wt = xs[sel], ys[sel], wts[sel]
        c0 = int(round(centre / dtheta))
        idx = (c0 + np.arange(-half, half + 1)) % n_theta
        th = thetas[idx]
        rho = x[:, None] * np.cos(th)[None, :] + y[:, None] * np.sin(th)[None, :]
        ri = np.rint((rho + rmax) / drho).astype(np.int64)
        flat = idx[None, :] * n_rho + ri
        acc += np.bincount(flat.ravel(), np.repeat(wt, len(idx)), minlength=acc.size)
    return acc.reshape(n_theta, n_rho), thetas, rmax


def _chords(thetas: np.ndarray, rho: np.ndarray, shape) -> np.ndarray:
    """Length inside the ``shape`` image of each Hough line ``(theta, rho)``."""
    h, w = shape
    c, s = np.cos(thetas), np.sin(thetas)
    big = 1e9
    sx = np.where(np.abs(s) > 1e-9, s, 1e-9)
    cy = np.where(np.abs(c) > 1e-9, c, 1e-9)
    # points rho * n + t * (-s, c): x in [0, w - 1], y in [0, h - 1]
    tx0, tx1 = rho * c / sx, (rho * c - (w - 1.0)) / sx
    ty0, ty1 = -rho * s / cy, ((h - 1.0) - rho * s) / cy
    lo = np.maximum(np.minimum(tx0, tx1), np.minimum(ty0, ty1))
    hi = np.minimum(np.maximum(tx0, tx1), np.maximum(ty0, ty1))
    return np.clip(hi - lo, 0.0, big)


def _refit(ys, xs, theta, rho, tol=2.5):
    """Least-squares line through the line pixels within ``tol`` of a Hough line: a point
    on it and its unit direction, both as (x, y); None when too few pixels are near."""
    c, s = math.cos(theta), math.sin(theta)
    r = xs * c + ys * s - rho
    near = np.abs(r) <= tol
    if near.sum() < 8:
        return None
    t = -xs[near] * s + ys[near] * c
    rr = r[near]
    k, r0 = 0.0, 0.0
    for _ in range(2):
        tm, rm = t.mean(), rr.mean()
        var = float(((t - tm) ** 2).sum())
        k = float(((t - tm) * (rr - rm)).sum()) / var if var > 0 else 0.0
        r0 = rm - k * tm
        keep = np.abs(rr - (r0 + k * t)) <= 1.5
        if keep.sum() < 8:
            break
        t, rr = t[keep], rr[keep]
    n, d = np.array([c, s]), np.array([-s, c])
    dv = d + k * n
    return (rho + r0) * n, dv / np.hypot(*dv)


def _profile(g, ok, p0, dv, side):
    """Samples every pixel along a line across the image: positions ``t``, points
    ``x, y``, validity, and the gray level on the line and on its darker and brighter
    side ``side`` px across."""
    h, w = g.shape
    tmax = math.hypot(h, w)
    t = np.arange(-tmax, tmax, 1.0)
    x, y = p0[0] + t * dv[0], p0[1] + t * dv[1]
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    t, x, y = t[inside], x[inside], y[inside]
    nx, ny = -dv[1], dv[0]
    coords = np.stack(
        [
            np.concatenate([y, y + side * ny, y - side * ny]),
            np.concatenate([x, x + side * nx, x - side * nx]),
        ]
    )
    v = ndi.map_coordinates(g, coords, order=1, mode="nearest").reshape(3, -1)
    valid = ok[np.rint(y).astype(int), np.rint(x).astype(int)]
    return t, x, y, valid, v[0], np.minimum(v[1], v[2]), np.maximum(v[1], v[2])


def _longest_run(good: np.ndarray, max_gap: int) -> tuple[int, int] | None:
    """First and last index of the longest run of ``good``, bridging gaps up to
    ``max_gap``."""
    idx = np.flatnonzero(good)
    if len(idx) == 0:
        return None
    cut = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate([[0], cut + 1])
    ends = np.concatenate([cut, [len(idx) - 1]])
    k = int(np.argmax(idx[ends] - idx[starts]))
    return int(idx[starts[k]]), int(idx[ends[k]])


def find_scratches(
    band: np.ndarray,
    solid_level: float,
    span: float,
    valid: np.ndarray | None = None,
    *,
    factor: int = 2,
    top: float = 0.0,
    left: float = 0.0,
    min_length_px: float = 200.0,
    line_contrast: float = 0.1,
    min_coverage: float = 0.5,
    gap_px: float = 16.0,
    max_lines: int = 40,
) -> list[Segment]:
    """Straight thin lines much longer than a particle: polishing scratches.

    Parameters
    ----------
    band : ndarray, shape (h, w), float32
        Straightened gray image of the coating band as ``factor`` x ``factor`` block means
        (NaN where invalid).
    solid_level : float
        Gray level above which a pixel is grain (between epoxy and grain).
    span : float
        Grain minus epoxy gray level.
    valid : ndarray of bool, optional
        Pixels that belong to the coating band (default: finite pixels of ``band``).
    factor : int
        Block size of ``band``.
    top, left : float
        Straightened full-resolution row and column of ``band[0, 0]``'s first pixel.
    min_length_px : float
        Shortest scratch, full-resolution px (a few particle diameters).
    line_contrast : float
        Relative contrast of the line against its darker (brighter) side, averaged along
        the line over an eighth of ``min_length_px``, that a scratch keeps along its
        whole length, over grains and epoxy alike.
    min_coverage : float
        Share of the single positions along the segment that reach ``line_contrast``.
    gap_px : float
        Longest interruption (full-resolution px) bridged.
    max_lines : int
        Candidate lines verified.

    Returns
    -------
    list of Segment
        In straightened full-resolution pixels.
    """
    ok = np.isfinite(band) if valid is None else valid & np.isfinite(band)
    g = np.where(ok, band, 0.0).astype(np.float32)
    score, which = ridge_response(g, solid_level, span)
    mag = np.abs(score)
    ys, xs = np.nonzero((mag >= 1.0) & ok)
    if len(ys) < 10:
        return []
    dtheta, drho = math.radians(1.5), 1.5
    acc, thetas, rmax = _hough(
        ys, xs, which[ys, xs], np.minimum(mag[ys, xs], 3.0), g.shape, dtheta, drho
    )
    # rank lines by how far their votes stand above the clutter expected on a line that
    # long at that angle (long lines along the band collect texture votes by length);
    # summed over rho, the chords of one angle cover the band's area once
    lam = acc.sum(axis=1) * drho / float(g.size)
    loc = (acc == ndi.maximum_filter(acc, size=(5, 7))) & (acc > 0.1 * min_length_px / factor)
    cand = np.flatnonzero(loc.ravel())
    cand = cand[np.argsort(acc.ravel()[cand])[::-1][: 10 * max_lines]]
    it, ir = np.unravel_index(cand, acc.shape)
    expect = lam[it] * _chords(thetas[it], ir * drho - rmax, g.shape)
    z = (acc[it, ir] - expect) / np.sqrt(expect * 3.0 + 1.0)
    cand = cand[np.argsort(z)[::-1][:max_lines]]
    fy, fx = ys.astype(float), xs.astype(float)
    out: list[Segment] = []
    win = max(int(min_length_px / factor / 8), 5)
    half = (factor - 1) / 2.0
    floor = 0.05 * span
    for ci in cand:
        it, ir = np.unravel_index(ci, acc.shape)
        fit = _refit(fy, fx, thetas[it], ir * drho - rmax)
        if fit is None:
            continue
        t, x, y, inside, c, lo, hi = _profile(g, ok, *fit, side=2.5)
        # where the two sides differ (the line runs along a grain's outline) the line's
        # own contrast cannot be told: such positions neither count nor break a run
        known = inside & (hi - lo <= 0.35 * hi + floor)
        dark = (lo - c) / (lo + floor)
        bright = (c - hi) / (hi + floor)
        sign = -1.0 if dark[known].sum() >= bright[known].sum() else 1.0
        rel = (dark if sign < 0 else bright)[known]
        if len(rel) < win:
            continue
        sm = ndi.uniform_filter1d(rel, win, mode="constant")
        run = _longest_run(sm >= line_contrast, max_gap=int(gap_px / factor))
        if run is None:
            continue
        k0, k1 = run
        pos = np.flatnonzero(known)
        i0, i1 = int(pos[k0]), int(pos[k1])
        length = (t[i1] - t[i0]) * factor
        cov = float(np.mean(rel[k0 : k1 + 1] >= line_contrast))
        if length < min_length_px or cov < min_coverage:
            continue
        seg = Segment(
            float(left + x[i0] * factor + half),
            float(top + y[i0] * factor + half),
            float(left + x[i1] * factor + half),
            float(top + y[i1] * factor + half),
            cov,
            sign * float(np.median(rel[k0 : k1 + 1])),
        )
        if not any(_same(seg, o) for o in out):
            out.append(seg)
    return out


def _same(a: Segment, b: Segment, tol: float = 6.0) -> bool:
    """Two detections of one scratch: nearly parallel and close to each other."""
    da = np.array([a.u1 - a.u0, a.v1 - a.v0]) / max(a.length, 1e-9)
    db = np.array([b.u1 - b.u0, b.v1 - b.v0]) / max(b.length, 1e-9)
    if abs(float(da @ db)) < math.cos(math.radians(3)):
        return False
    n = np.array([-db[1], db[0]])
    mid = np.array([(a.u0 + a.u1) / 2 - b.u0, (a.v0 + a.v1) / 2 - b.v0])
    return abs(float(mid @ n)) < tol
