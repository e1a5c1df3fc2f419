"""Find the current-collector foil's edge that faces the coating, as a sub-pixel line.

The foil is the brightest band that is uniform along the whole electrode. The search runs
in two passes:

1. coarse, on 4 x 4 block means: in every vertical strip the rows that are brightest and
   least textured across the strip lie inside the foil; the strongest step above (and
   below) that plateau is its edge; which side is more textured tells where the coating
   is; a RANSAC line through the strip edges rejects strips fooled by a bright particle,
   a scratch or a void;
2. fine, at full resolution: each strip's profile is sampled *along* the coarse line
   (so tilt does not smear the step), its steepest step is located to sub-pixel by a
   parabola, and a robust (Tukey) line fit through these points gives the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from ratescope.core.align.prepare import GrayPyramid, block_mean, to_gray
from ratescope.core.errors import RateScopeError

MAX_TILT_DEG = 10.0
"""Steepest collector the detector accepts (the method expects at most about 5 degrees)."""


class NoCollectorFound(RateScopeError):
    """Automatic detection found no collector foil: the user has to draw it."""


@dataclass
class CollectorLine:
    """The collector foil's edge facing the coating, in source-image pixels.

    Pixel ``(row r, column c)`` has its centre at ``x = c, y = r``; ``y`` grows downwards.

    Attributes
    ----------
    x0, y0, x1, y1 : float
        Left and right end points (``x0 < x1``), normally at the image's first and last
        column.
    confidence : float
        In [0, 1]: share of strips agreeing with the line times the edge contrast
        (1 for a line drawn by the user).
    coating_above : bool
        True when the coating lies above the foil on screen (the usual orientation);
        False for a flipped image, whose straightened view is then flipped back.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float = 1.0
    coating_above: bool = True

    @property
    def angle_deg(self) -> float:
        """``degrees(atan2(-(y1 - y0), x1 - x0))``: positive when the foil rises to the right."""
        return math.degrees(math.atan2(-(self.y1 - self.y0), self.x1 - self.x0))

    def y_at(self, x: np.ndarray | float) -> np.ndarray | float:
        """Height of the line at column(s) ``x`` (source px)."""
        t = (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0)
        return self.y0 + t * (self.y1 - self.y0)

    def to_dict(self) -> dict:
        return {
            "x0": self.x0,
            "y0": self.y0,
            "x1": self.x1,
            "y1": self.y1,
            "confidence": self.confidence,
            "coating_above": self.coating_above,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CollectorLine:
        return cls(
            float(d["x0"]),
            float(d["y0"]),
            float(d["x1"]),
            float(d["y1"]),
            float(d.get("confidence", 1.0)),
            bool(d.get("coating_above", True)),
        )


def _ransac_line(
    x: np.ndarray,
    y: np.ndarray,
    tol: float,
    max_slope: float,
    rng: np.random.Generator,
    trials: int = 300,
) -> np.ndarray:
    """Inlier mask of the line through two of the points that has most points within tol."""
    n = len(x)
    i, j = rng.integers(0, n, trials), rng.integers(0, n, trials)
    ok = x[i] != x[j]
    i, j = i[ok], j[ok]
    slope = (y[j] - y[i]) / (x[j] - x[i])
    keep = np.abs(slope) <= max_slope
    i, j, slope = i[keep], j[keep], slope[keep]
    if len(i) == 0:
        return np.zeros(n, bool)
    resid = np.abs(y[None, :] - (y[i, None] + slope[:, None] * (x[None, :] - x[i, None])))
    score = (resid < tol).sum(axis=1)
    return resid[int(np.argmax(score))] < tol


def _tukey_fit(x: np.ndarray, y: np.ndarray, w0: np.ndarray, iters: int = 8):
    """Robust straight line ``y = a + b x`` by iteratively reweighted least squares."""
    w = w0.astype(float)
    a = b = 0.0
    for _ in range(iters):
        if w.sum() < 2:
            break
        b, a = np.polyfit(x, y, 1, w=np.sqrt(w))
        r = y - (a + b * x)
        s = 1.4826 * np.median(np.abs(r[w > 0])) + 0.05
        u = r / (4.685 * s)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
    return a, b, w > 0


def _coarse_edges(g: np.ndarray, strip: int):
    """Per coarse strip: top/bottom foil edge rows and texture above/below (coarse px)."""
    h, w = g.shape
    n = w // strip
    s3 = g[:, : n * strip].reshape(h, n, strip)
    mean = s3.mean(axis=2)
    std = s3.std(axis=2)
    scale = float(np.percentile(mean, 99.5) - np.percentile(mean, 0.5)) + 1e-6
    score = ndi.uniform_filter1d((mean - 2.0 * std) / scale, 9, axis=0, mode="nearest")
    inside = np.argmax(score, axis=0)
    grad = np.gradient(ndi.gaussian_filter1d(mean, 1.0, axis=0), axis=0)
    rows = np.arange(h)[:, None]
    reach = 40
    above = (rows <= inside) & (rows >= inside - reach)
    below = (rows >= inside) & (rows <= inside + reach)
    top = np.argmax(np.where(above, grad, -np.inf), axis=0)
    bot = np.argmin(np.where(below, grad, np.inf), axis=0)
    tex = ndi.uniform_filter1d(std, 1, axis=0)

    def band(lo, hi):
        out = np.zeros(n)
        for k in range(n):
            a, b = max(lo[k], 0), min(hi[k], h)
            out[k] = tex[a:b, k].mean() if b - a >= 3 else 0.0
        return out

    tex_above = band(top - 24, top - 3)
    tex_below = band(bot + 4, bot + 25)
    xs = np.arange(n) * strip + (strip - 1) / 2.0
    return xs, top.astype(float), bot.astype(float), tex_above, tex_below, scale


def _refine(
    gray: GrayPyramid, a: float, b: float, rising: bool, strip: int, reach: int, every: int = 2
):
    """Sub-pixel edge offsets along the line ``y = a + b x`` in full-resolution strips
    (every ``every``-th column of a strip is read)."""
    h, w = gray.shape
    n = w // strip
    xs = np.arange(n * strip, dtype=np.float32).reshape(n, strip)
    xr = xs[:, ::every]
    d = np.arange(-reach, reach + 1, dtype=np.float32)
    ys = (a + b * xr)[:, None, :] + d[None, :, None]
    inside = ((ys >= 0) & (ys <= h - 1)).all(axis=(1, 2))
    prof = gray.sample(ys, np.broadcast_to(xr[:, None, :], ys.shape)).mean(axis=2)
    prof = ndi.gaussian_filter1d(prof, 1.5, axis=1)
    grad = np.gradient(prof, axis=1)
    if not rising:
        grad = -grad
    k = np.clip(np.argmax(grad[:, 1:-1], axis=1) + 1, 1, len(d) - 2)
    r = np.arange(n)
    gm, g0, gp = grad[r, k - 1], grad[r, k], grad[r, k + 1]
    den = gm - 2 * g0 + gp
    sub = np.where(den < 0, 0.5 * (gm - gp) / np.where(den < 0, den, 1), 0.0)
    off = d[k] + np.clip(sub, -1, 1)
    lo = prof[r, np.clip(k - 6, 0, None)]
    hi = prof[r, np.clip(k + 6, None, len(d) - 1)]
    step = (hi - lo) if rising else (lo - hi)
    xc = xs.mean(axis=1)
    return xc, a + b * xc + off, step, inside & (k > 2) & (k < len(d) - 3)


def detect_collector(
    image: np.ndarray,
    *,
    factor: int = 4,
    strip_px: int = 64,
    seed: int = 0,
    coarse: np.ndarray | None = None,
    pyramid: GrayPyramid | None = None,
) -> CollectorLine:
    """Find the collector foil's edge facing the coating.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, 3)
        The mosaic, uint8/uint16/float, gray or RGB. The electrode should run roughly
        left to right (tilt up to about 5 degrees; at most 10 is accepted).
    factor : int
        Block size of the coarse pass.
    strip_px : int
        Width of the vertical strips in source pixels.
    seed : int
        Seed of the RANSAC sampling (the result is deterministic for a given seed).
    coarse : ndarray, optional
        ``block_mean(to_gray(image), factor)`` if already computed.
    pyramid : GrayPyramid, optional
        ``GrayPyramid(image)`` if already computed (its quarter-resolution image is the
        coarse image when ``factor`` is 4 and ``coarse`` is not given).

    Returns
    -------
    CollectorLine
        End points at the first and last column, source pixels, sub-pixel.

    Raises
    ------
    RateScopeError
        When no straight bright band runs across the image.

    Examples
    --------
    >>> line = detect_collector(image)                     # doctest: +SKIP
    >>> round(line.angle_deg, 2), line.coating_above       # doctest: +SKIP
    (1.25, True)
    """
    gray = pyramid if pyramid is not None else GrayPyramid(image)
    h, w = gray.shape
    if h < 8 * factor or w < 8 * strip_px:
        raise RateScopeError(f"the image ({w} x {h} px) is too small to find the collector")
    if coarse is not None:
        g = coarse
    elif factor == 4:
        g = gray.quarter
    else:
        g = (
            block_mean(gray.half, factor // 2)
            if factor % 2 == 0
            else block_mean(to_gray(image), factor)
        )
    cstrip = max(strip_px // factor, 2)
    xs, top, bot, tex_a, tex_b, scale = _coarse_edges(g, cstrip)
    coating_above = bool(np.median(tex_a) >= np.median(tex_b))
    ey = top if coating_above else bot
    rng = np.random.default_rng(seed)
    slope_max = math.tan(math.radians(MAX_TILT_DEG))
    inl = _ransac_line(xs, ey, tol=2.0, max_slope=slope_max, rng=rng)
    if inl.sum() < max(4, 0.25 * len(xs)):
        raise NoCollectorFound(
            "no current-collector foil found: no straight bright band "
            "runs across the image; draw the collector line by hand"
        )
    bc, ac = np.polyfit(xs[inl], ey[inl], 1)
    # coarse pixel i covers source rows i*f .. i*f+f-1: centre at i*f + (f-1)/2
    a = ac * factor + (factor - 1) / 2.0 - bc * (factor - 1) / 2.0
    b = bc
    reach = 3 * factor
    for rch in (reach, max(reach // 2, 4)):
        x, y, step, ok = _refine(gray, a, b, coating_above, strip_px, rch)
        ok &= step > 0
        if ok.sum() < 3:
            raise NoCollectorFound(
                "no current-collector foil found: its edge has no contrast; "
                "draw the collector line by hand"
            )
        a0, b0, inl = _tukey_fit(x[ok], y[ok], np.ones(ok.sum()))
        a, b = a0, b0
    if abs(b) > slope_max:
        raise RateScopeError(f"the collector found is tilted by more than {MAX_TILT_DEG} degrees")
    share = inl.sum() / max(len(x), 1)
    contrast = float(np.median(step[ok][inl])) / (scale + 1e-6)
    confidence = float(np.clip(share * min(1.0, contrast / 0.15), 0.0, 1.0))
    x1 = float(w - 1)
    return CollectorLine(0.0, float(a), x1, float(a + b * x1), confidence, coating_above)
