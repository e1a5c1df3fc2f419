"""Thin-line evidence per pixel: the first step of the scratch search.

A polishing scratch is a groove (darker) or a smear (brighter) a few px wide that runs
straight for far longer than a particle is wide. Per pixel and for each of
:data:`N_DIRECTIONS` line directions, the image is first averaged over a few px *along*
the direction (a straight line keeps its contrast, noise and round clutter do not), then
the pixel is compared with its two neighbours ``d`` px away *across* it. A line pixel is
darker (or brighter) than both sides; a step edge (a particle outline) is darker on one
side only and never scores.

Contrast is judged relative to the sides' level (a groove darkens whatever it crosses by a
similar share) with a floor set by the image's own noise, measured on the dark phases, so
faint lines in the dark epoxy count where the image is clean enough to show them.
"""

from __future__ import annotations

import math

import numpy as np

N_DIRECTIONS = 8
"""Line directions ``phi_k = k * pi / N_DIRECTIONS`` (x right, y down) tested per pixel."""


def normal_angle(k: int) -> float:
    """Hough normal angle ``theta`` (``rho = x cos theta + y sin theta``) of direction
    ``k``'s lines, in [0, pi)."""
    return (k * math.pi / N_DIRECTIONS + math.pi / 2) % math.pi


def _step(uy: float, ux: float, m: int) -> tuple[int, int]:
    """Integer (dy, dx) point ``m`` steps along unit direction ``(uy, ux)``, stepping one
    px along its major axis per step (a digital straight line: no point repeats)."""
    if abs(ux) >= abs(uy):
        return int(round(m * uy / abs(ux))), int(m * math.copysign(1, ux))
    return int(m * math.copysign(1, uy)), int(round(m * ux / abs(uy)))


def noise_sigma(g: np.ndarray, valid: np.ndarray, below: float) -> float:
    """Robust noise level of ``g`` (standard deviation of a pixel against the mean of its
    left and right neighbours) over valid pixels darker than ``below``."""
    c = g[::2, 1:-1]
    e = c - 0.5 * (g[::2, :-2] + g[::2, 2:])
    sel = valid[::2, 1:-1] & (c < below)
    if sel.sum() < 100:
        sel = valid[::2, 1:-1]
    if not sel.any():
        return 0.0
    return float(1.4826 * np.median(np.abs(e[sel])) / math.sqrt(1.5))


def ridge_response(
    g: np.ndarray,
    solid_level: float,
    span: float,
    *,
    valid: np.ndarray | None = None,
    d: int = 2,
    half_len: int = 2,
    dark_min: float = 0.12,
    bright_min: float = 0.06,
    smear_min: float = 0.1,
    noise_z: float = 4.0,
):
    """Thin-line score per pixel (>= 1: a line pixel) and its direction.

    With ``S`` the image averaged over ``2 * half_len + 1`` px along a direction, ``c`` its
    value at the pixel and ``lo``, ``hi`` the darker and the brighter of its values ``d``
    px to either side across the direction:

    * groove: ``(lo - c) / max(dark_min * lo, noise_z * sigma)``;
    * smear: ``(c - hi) / max(bright_min * hi, smear_min * span, noise_z * sigma)``,

    where ``sigma`` is the noise of ``S`` across a line (:func:`noise_sigma` on the dark
    phases, reduced by the averaging).

    Parameters
    ----------
    g : ndarray, shape (h, w), float32
        Gray image (invalid pixels filled with any finite value).
    solid_level : float
        Gray level above which a pixel is grain: the noise is measured below it.
    span : float
        Grain minus epoxy gray level.
    valid : ndarray of bool, optional
        Pixels that belong to the image (default: all).
    d : int
        Distance (px) of the neighbours across the line.
    half_len : int
        Half-length (px) of the averaging along the line.

    Returns
    -------
    score : ndarray, float32
        Largest ratio of contrast to its threshold over the directions; positive for
        bright lines, negative for dark ones.
    which : ndarray, int8
        Index ``k`` of the direction with that score (:func:`normal_angle` gives the
        line's normal).
    """
    h, w = g.shape
    valid = np.ones(g.shape, bool) if valid is None else valid
    taps = 2 * half_len + 1
    sigma = noise_sigma(g, valid, solid_level) / math.sqrt(taps) * math.sqrt(1.5)
    floor = np.float32(noise_z * sigma * taps)
    smear = np.float32(max(smear_min * span, noise_z * sigma) * taps)
    pad = half_len + d + 1
    gp = np.pad(g.astype(np.float32, copy=False), pad, mode="edge")
    q = d + 1
    hh, ww = h + 2 * q, w + 2 * q
    best = np.zeros((h, w), np.float32)
    dark_best = np.zeros((h, w), bool)
    which = np.zeros((h, w), np.int8)
    for k in range(N_DIRECTIONS):
        phi = k * math.pi / N_DIRECTIONS
        # the sum along the line (not the mean: the ratios below do not change when
        # the floors are scaled by ``taps`` too)
        s = None
        for m in range(-half_len, half_len + 1):
            dy, dx = _step(math.sin(phi), math.cos(phi), m)
            part = gp[half_len + dy : half_len + dy + hh, half_len + dx : half_len + dx + ww]
            s = part.copy() if s is None else np.add(s, part, out=s)
        oy, ox = _step(math.cos(phi), -math.sin(phi), d)
        c = s[q : q + h, q : q + w]
        a = s[q + oy : q + oy + h, q + ox : q + ox + w]
        b = s[q - oy : q - oy + h, q - ox : q - ox + w]
        lo = np.minimum(a, b)
        hi = np.maximum(a, b)
        dark = lo - c
        lo *= np.float32(dark_min)
        np.maximum(lo, floor, out=lo)
        dark /= lo
        bright = c - hi
        hi *= np.float32(bright_min)
        np.maximum(hi, smear, out=hi)
        bright /= hi
        is_dark = dark > bright
        mag = np.maximum(dark, bright, out=dark)
        upd = mag > best
        np.copyto(best, mag, where=upd)
        np.copyto(dark_best, is_dark, where=upd)
        which[upd] = k
    best[dark_best] *= -1
    best[~valid] = 0.0
    return best, which
