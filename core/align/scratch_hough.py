"""Candidate scratch lines: an oriented, weighted Hough vote of the thin-line pixels.

Every line pixel votes, weighted by its contrast, for the lines through it whose normal
lies near its own direction (:mod:`core.align.scratch_ridges`). Clutter (cracks inside a
grain, gaps between touching grains, binder strands) is short and at random angles and
spreads its votes; a scratch stacks its votes on one line. Lines are ranked by how far
their votes stand above the clutter expected on a line that long at that angle.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from ratescope.core.align.scratch_ridges import N_DIRECTIONS, normal_angle

D_THETA = math.radians(1.5)
D_RHO = 1.5


def accumulate(ys, xs, ks, wts, shape, dtheta=D_THETA, drho=D_RHO):
    """Weighted Hough accumulator ``(n_theta, n_rho)``; each point votes only within its
    direction's bin (+- half a bin and 3 degrees). Also returns the angles and the rho
    offset (``rho = index * drho - rmax``)."""
    h, w = shape
    n_theta = int(round(math.pi / dtheta))
    thetas = np.arange(n_theta) * dtheta
    rmax = math.hypot(h, w)
    n_rho = int(2 * rmax / drho) + 2
    acc = np.zeros(n_theta * n_rho, np.float64)
    half = int(math.ceil((math.pi / (2 * N_DIRECTIONS) + math.radians(3)) / dtheta))
    for k in range(N_DIRECTIONS):
        sel = ks == k
        if not sel.any():
            continue
        x, y, wt = xs[sel], ys[sel], wts[sel]
        c0 = int(round(normal_angle(k) / dtheta))
        idx = (c0 + np.arange(-half, half + 1)) % n_theta
        th = thetas[idx]
        rho = x[:, None] * np.cos(th)[None, :] + y[:, None] * np.sin(th)[None, :]
        ri = np.rint((rho + rmax) / drho).astype(np.int64)
        flat = idx[None, :] * n_rho + ri
        acc += np.bincount(flat.ravel(), np.repeat(wt, len(idx)), minlength=acc.size)
    return acc.reshape(n_theta, n_rho), thetas, rmax


def chords(thetas: np.ndarray, rho: np.ndarray, shape) -> np.ndarray:
    """Length inside the ``shape`` image of each Hough line ``(theta, rho)``."""
    h, w = shape
    c, s = np.cos(thetas), np.sin(thetas)
    sx = np.where(np.abs(s) > 1e-9, s, 1e-9)
    cy = np.where(np.abs(c) > 1e-9, c, 1e-9)
    # points rho * n + t * (-s, c): x in [0, w - 1], y in [0, h - 1]
    tx0, tx1 = rho * c / sx, (rho * c - (w - 1.0)) / sx
    ty0, ty1 = -rho * s / cy, ((h - 1.0) - rho * s) / cy
    lo = np.maximum(np.minimum(tx0, tx1), np.minimum(ty0, ty1))
    hi = np.minimum(np.maximum(tx0, tx1), np.maximum(ty0, ty1))
    return np.clip(hi - lo, 0.0, 1e9)


def ranked_lines(ys, xs, ks, wts, shape, *, min_votes: float, max_lines: int):
    """The ``max_lines`` most significant local maxima of the vote, as (theta, rho)."""
    acc, thetas, rmax = accumulate(ys, xs, ks, wts, shape)
    size = float(shape[0] * shape[1])
    # summed over rho, the chords of one angle cover the image's area once
    lam = acc.sum(axis=1) * D_RHO / size
    loc = (acc == ndi.maximum_filter(acc, size=(5, 7))) & (acc > min_votes)
    cand = np.flatnonzero(loc.ravel())
    cand = cand[np.argsort(acc.ravel()[cand])[::-1][: 10 * max_lines]]
    it, ir = np.unravel_index(cand, acc.shape)
    rho = ir * D_RHO - rmax
    expect = lam[it] * chords(thetas[it], rho, shape)
    z = (acc[it, ir] - expect) / np.sqrt(expect * 3.0 + 1.0)
    order = np.argsort(z)[::-1][:max_lines]
    return [(float(thetas[it[o]]), float(rho[o])) for o in order]


def refit(ys, xs, theta, rho, tol=2.5, passes=2):
    """Least-squares line through the line pixels within ``tol`` of a Hough line: a point
    on it and its unit direction, both as (x, y); None when too few pixels are near.

    Each pass gathers the pixels near the previous pass's line, so pixels far along the
    line that the coarse Hough angle missed join in."""
    # later passes look only among the pixels near the first line
    c, s = math.cos(theta), math.sin(theta)
    near = np.abs(xs * c + ys * s - rho) <= 3 * tol
    ys, xs = ys[near], xs[near]
    fit = None
    for _ in range(passes):
        got = _fit_near(ys, xs, theta, rho, tol)
        if got is None:
            return fit
        fit = got
        (px, py), (dx, dy) = fit
        theta = math.atan2(dx, -dy) % math.pi
        rho = px * math.cos(theta) + py * math.sin(theta)
    return fit


def _fit_near(ys, xs, theta, rho, tol):
    """One pass of :func:`refit`."""
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
