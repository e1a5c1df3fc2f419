"""Polishing scratches: long, thin, straight lines found once over the whole coating band.

A scratch left by polishing is a groove (darker) or a smear (brighter) 1-4 px wide that runs
straight across grains, binder and epoxy-filled pores alike, at one angle, for far longer
than a particle is wide. Three steps, each in its own module:

1. *thin-line pixels* (:mod:`core.align.scratch_ridges`): per pixel and direction, the
   image averaged along the direction is darker (brighter) than both sides across it;
2. *oriented Hough vote* (:mod:`core.align.scratch_hough`): candidate lines on which
   those pixels stack up far beyond the clutter expected at that angle and length;
3. *verification along the line* (:mod:`core.align.scratch_profile`): the longest
   stretch where the line shows wherever it can be seen; it must be long and dense. The
   line is then re-centred on the scratch itself and read once more.

The result is a list of :class:`Segment` in straightened full-resolution pixels; a tile is
rejected when a segment crosses it.
"""

from __future__ import annotations

import numpy as np

from ratescope.core.align.scratch_hough import ranked_lines, refit
from ratescope.core.align.scratch_profile import recentre, verify_line
from ratescope.core.align.scratch_ridges import ridge_response
from ratescope.core.align.scratch_segment import Segment

__all__ = ["Segment", "find_scratches", "ridge_response"]


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
    max_lines: int = 60,
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
        whole length wherever it can be seen, over grains and epoxy alike.
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
    score, which = ridge_response(g, solid_level, span, valid=ok)
    mag = np.abs(score)
    ys, xs = np.nonzero(mag >= 1.0)
    if len(ys) < 10:
        return []
    lines = ranked_lines(
        ys,
        xs,
        which[ys, xs],
        np.minimum(mag[ys, xs], 3.0),
        g.shape,
        min_votes=0.1 * min_length_px / factor,
        max_lines=max_lines,
    )
    fy, fx = ys.astype(float), xs.astype(float)
    win = max(int(min_length_px / factor / 8), 5)
    half = (factor - 1) / 2.0
    check = dict(
        floor=0.05 * span, win=win, line_contrast=line_contrast, max_gap=int(gap_px / factor)
    )
    out: list[Segment] = []
    for theta, rho in lines:
        fit = refit(fy, fx, theta, rho)
        if fit is None:
            continue
        found = verify_line(g, ok, *fit, **check)
        if found is None:
            continue
        if np.hypot(found[2] - found[0], found[3] - found[1]) * factor < min_length_px / 2:
            continue  # not even half a scratch along this line
        line = recentre(g, fit[1], found, 1.0 if found[5] > 0 else -1.0)
        again = None if line is None else verify_line(g, ok, *line, **check)
        if again is not None and again[6] > found[6]:
            found = again
        x0, y0, x1, y1, cov, contrast, seen = found
        length = np.hypot(x1 - x0, y1 - y0) * factor
        # at least half a minimum length must show the line directly
        if length < min_length_px or cov < min_coverage or seen * factor < min_length_px / 2:
            continue
        seg = Segment(
            float(left + x0 * factor + half),
            float(top + y0 * factor + half),
            float(left + x1 * factor + half),
            float(top + y1 * factor + half),
            cov,
            contrast,
        )
        if not any(seg.same_line(o) for o in out):
            out.append(seg)
    return out
