"""Verification of a candidate scratch line by reading the image along it.

Along the candidate line the gray level on the line is compared with the level ``side``
px to either side. A scratch keeps its contrast over grains and epoxy-filled pores alike
wherever it *can* be seen: a groove darkens what it crosses by a share, so it shows
wherever the sides are not black; a bright smear has a brightness of its own, so it shows
only where the sides are darker than it (over a grain as bright as the smear it vanishes).
Positions where the line cannot be seen, or where the sides differ (the line runs along a
grain's outline), neither count nor break the scratch. The longest stretch where most
positions show the line is the segment (extended at both ends while the line still shows
at half that contrast); it must be long and densely covered.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi


def sample_line(g, ok, p0, dv, side):
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


def longest_run(good: np.ndarray, max_gap: int) -> tuple[int, int] | None:
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


def _observable(c, lo, hi, seen, sign, line_contrast, floor):
    """Positions where the line could show ``line_contrast`` against its sides: a groove
    wherever the sides are not black; a smear where the sides are darker than the smear
    is where it is clearly ``seen``."""
    if sign < 0:
        return lo >= floor
    if seen.sum() < 3:
        return np.ones(c.shape, bool)
    level = float(np.percentile(c[seen], 80))
    return hi <= (level - line_contrast * floor) / (1.0 + line_contrast)


def _grow(strong: tuple[int, int], weak: np.ndarray, max_gap: int) -> tuple[int, int]:
    """Extend the run ``strong`` (first, last index) over ``weak`` positions, bridging
    gaps up to ``max_gap`` (hysteresis: a scratch fades out towards its ends)."""
    k0, k1 = strong
    idx = np.flatnonzero(weak)
    before = idx[idx < k0][::-1]
    for i in before:
        if k0 - i > max_gap + 1:
            break
        k0 = int(i)
    for i in idx[idx > k1]:
        if i - k1 > max_gap + 1:
            break
        k1 = int(i)
    return k0, k1


def verify_line(
    g: np.ndarray,
    ok: np.ndarray,
    p0: np.ndarray,
    dv: np.ndarray,
    *,
    floor: float,
    win: int,
    line_contrast: float,
    max_gap: int,
):
    """The scratch segment along a candidate line, or None.

    Parameters
    ----------
    g, ok : ndarray
        Gray image (block means) and its valid pixels.
    p0, dv : ndarray
        A point on the line and its unit direction, (x, y) in ``g``'s pixels.
    floor : float
        Gray level added to the sides' level when relative contrast is taken (keeps it
        finite in the black).
    win : int
        Positions over which the contrast is taken (median) along the line.
    line_contrast : float
        Relative contrast the averaged line keeps along the segment.
    max_gap : int
        Longest interruption (positions) bridged.

    Returns
    -------
    tuple or None
        ``(x0, y0, x1, y1, coverage, contrast, seen_positions)`` in ``g``'s pixels,
        contrast signed (negative: a dark groove).
    """
    t, x, y, inside, c, lo, hi = sample_line(g, ok, p0, dv, side=2.5)
    known = inside & (hi - lo <= 0.35 * hi + floor)
    dark = (lo - c) / (lo + floor)
    bright = (c - hi) / (hi + floor)
    sign = -1.0 if dark[known].sum() >= bright[known].sum() else 1.0
    rel = dark if sign < 0 else bright
    known &= _observable(c, lo, hi, known & (rel >= line_contrast), sign, line_contrast, floor)
    rel = rel[known]
    if len(rel) < win:
        return None
    # a median: clutter crossing the line (a binder flake, a grain edge) is brief
    sm = ndi.median_filter(rel, win, mode="nearest")
    run = longest_run(sm >= line_contrast, max_gap=max_gap)
    if run is None:
        return None
    k0, k1 = _grow(run, sm >= 0.5 * line_contrast, max_gap)
    pos = np.flatnonzero(known)
    i0, i1 = int(pos[k0]), int(pos[k1])
    seg = rel[k0 : k1 + 1]
    return (
        float(x[i0]),
        float(y[i0]),
        float(x[i1]),
        float(y[i1]),
        float(np.mean(seg >= line_contrast)),
        sign * float(np.median(seg)),
        k1 - k0 + 1,
    )


def recentre(g, dv, found, sign, reach=2.0):
    """A better line through a found segment: per position along it, the sub-pixel
    offset across (within ``reach`` px) where the line is darkest (brightest for a smear),
    weighted by its contrast, fitted by a straight line. Returns a point and a unit
    direction (x, y), or None.

    A Hough line fitted to the thin-line pixels of a long scratch can be off by a pixel or
    two at its far end, enough to lose a wide smear there; this refit follows the line
    itself.
    """
    x0, y0, x1, y1 = found[:4]
    n_pos = int(math.hypot(x1 - x0, y1 - y0)) + 1
    if n_pos < 8:
        return None
    t = np.arange(n_pos, dtype=float)
    start = np.array([x0, y0])
    nx, ny = -dv[1], dv[0]
    offs = np.arange(-reach, reach + 0.01, 0.5)
    px = start[0] + t[None, :] * dv[0] + offs[:, None] * nx
    py = start[1] + t[None, :] * dv[1] + offs[:, None] * ny
    prof = ndi.map_coordinates(g, [py.ravel(), px.ravel()], order=1, mode="nearest")
    prof = sign * prof.reshape(len(offs), n_pos)  # the line is the maximum
    k = np.argmax(prof, axis=0)
    wt = prof[k, np.arange(n_pos)] - np.maximum(prof[0], prof[-1])
    use = (k > 0) & (k < len(offs) - 1) & (wt > 0)
    if use.sum() < 8:
        return None
    tt, oo, ww = t[use], offs[k[use]], wt[use]
    for _ in range(2):
        b, a = np.polyfit(tt, oo, 1, w=np.sqrt(ww))
        keep = np.abs(oo - (a + b * tt)) <= 1.0
        if keep.sum() < 8:
            break
        tt, oo, ww = tt[keep], oo[keep], ww[keep]
    n = np.array([nx, ny])
    d2 = np.asarray(dv, float) + b * n
    return start + a * n, d2 / np.hypot(*d2)
