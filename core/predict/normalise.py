"""Input normalisations: what a tile looks like before the network sees it.

A network trained on one microscope's grey levels reads the look, not the structure. The
normalisation named in a model's card (``architecture.input_norm``) is applied to every
tile by training, prediction and explanation alike (:func:`normalise_tiles`):

``none``
    The tile as converted by :func:`core.model_input.to_model_image` (the paper's
    input; models trained before normalisations existed).
``robust``
    Per-tile robust standardisation of the gray level: median to a fixed level, the
    10-90 % spread to a fixed spread. Removes exposure, contrast and colour, keeps the
    order of the phases.
``phases``
    Phase-normalising front end: gray level, shading corrected by a quadratic surface
    fitted to the bright phase, a two-class Otsu split into active material (bright, as
    NMC always is in reflected light) and the rest (pores and carbon-binder, whose grey
    levels swap between labs), then both repainted at canonical levels with a thin
    carbon-binder shell around the particles and the optics' blur. What the network sees
    is then the structure, at one look.

No torch here; the functions take and return (N, H, W, 3) uint8 RGB tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ratescope.core.errors import RateScopeError

NORMALISATIONS = ("none", "robust", "phases")
DEFAULT = "phases"
"""The normalisation of the embedded models (their cards name it)."""

# canonical levels (0-1) of the generator's bright-field look (core.synth.appearance)
ACTIVE_LEVEL = 0.57
BINDER_LEVEL = 0.15
PORE_LEVEL = 0.063
SHELL_PX = 1.5
BLUR_PX = 0.9
ROBUST_MEDIAN = 0.30
ROBUST_SPREAD = 0.45
SMALL_HOLE_PX = 40
"""Dark specks inside a particle up to this area (grain boundaries, inner pores) count as
particle: they are not the electrode's pore network."""


@dataclass(frozen=True)
class PhaseStats:
    """What the phase front end saw in one tile (used by the out-of-distribution check).

    Attributes
    ----------
    active_fraction : float
        Share of the tile's pixels read as active material.
    separability : float
        Otsu's effectiveness: between-class over total variance of the shading-corrected
        gray level (near 1 for two clean phases, near 0.6 or below for noise or texture).
    texture : float
        Spread of the gray level inside the bright phase (10-90 %) over the gap between
        the two phases' medians: small for polished NMC, large when the "particles" carry
        a picture of their own.
    """

    active_fraction: float
    separability: float
    texture: float = 0.0

    def as_row(self) -> list[float]:
        return [self.active_fraction, self.separability, self.texture]


def _gray(tile: np.ndarray) -> np.ndarray:
    return tile.astype(np.float32).mean(axis=-1) / 255.0


def otsu(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu threshold of ``values`` and its effectiveness (between / total variance)."""
    v = np.asarray(values, np.float64).ravel()
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        return lo, 0.0
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2 / w0[-1] ** 2
    k = int(np.argmax(between[:-1]))
    total = float(v.var())
    return float(edges[k + 1]), float(between[k] / total) if total > 0 else 0.0


def _shading(gray: np.ndarray, bright: np.ndarray) -> np.ndarray:
    """Quadratic surface through the bright phase's gray level (the illumination)."""
    h, w = gray.shape
    ys, xs = np.nonzero(bright[::4, ::4])
    if ys.size < 50:
        return np.full_like(gray, float(gray.mean()) or 1.0)
    y, x = ys * 4 / h - 0.5, xs * 4 / w - 0.5
    a = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)
    coef, *_ = np.linalg.lstsq(a, gray[::4, ::4][ys, xs], rcond=None)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h - 0.5, xx / w - 0.5
    s = coef[0] + coef[1] * xx + coef[2] * yy + coef[3] * xx**2 + coef[4] * yy**2
    s += coef[5] * xx * yy
    return np.maximum(s, 1e-3).astype(np.float32)


def segment_active(tile: np.ndarray) -> tuple[np.ndarray, PhaseStats]:
    """Active-material mask (H, W) of one uint8 RGB tile and the front end's statistics."""
    g = ndimage.gaussian_filter(_gray(tile), 1.0)
    t0, _ = otsu(g)
    flat = g / _shading(g, g > t0)
    t, eff = otsu(flat)
    active = flat > t
    active = ndimage.binary_closing(active, ndimage.generate_binary_structure(2, 1))
    holes = ndimage.binary_fill_holes(active) & ~active
    lab, n = ndimage.label(holes)
    if n:
        sizes = ndimage.sum_labels(holes, lab, np.arange(1, n + 1))
        small = np.concatenate([[False], sizes <= SMALL_HOLE_PX])
        active |= small[lab]
    active = ndimage.binary_opening(active, ndimage.generate_binary_structure(2, 1))
    texture = 0.0
    if active.any() and (~active).any():
        a, rest = flat[active], flat[~active]
        p10, p90 = np.percentile(a, (10, 90))
        gap = float(np.median(a) - np.median(rest))
        texture = float((p90 - p10) / max(gap, 1e-3))
    return active, PhaseStats(float(active.mean()), eff, texture)


def canonical_tile(active: np.ndarray) -> np.ndarray:
    """Paint an active mask at the canonical levels: (H, W, 3) uint8."""
    dist = ndimage.distance_transform_edt(~active)
    img = np.where(active, ACTIVE_LEVEL, np.where(dist <= SHELL_PX, BINDER_LEVEL, PORE_LEVEL))
    img = ndimage.gaussian_filter(img.astype(np.float32), BLUR_PX)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1)


def robust_tile(tile: np.ndarray) -> np.ndarray:
    """Per-tile robust standardisation of the gray level: (H, W, 3) uint8."""
    g = _gray(tile)
    p10, p50, p90 = np.percentile(g, (10, 50, 90))
    z = (g - p50) / max(p90 - p10, 1e-3)
    out = np.clip((ROBUST_MEDIAN + ROBUST_SPREAD * z) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1)


def _check(method: str) -> None:
    if method not in NORMALISATIONS:
        raise RateScopeError(
            f"unknown input normalisation {method!r} (known: {', '.join(NORMALISATIONS)})"
        )


def normalise_tiles(tiles: np.ndarray, method: str) -> np.ndarray:
    """Apply the input normalisation ``method`` to (N, H, W, 3) uint8 RGB tiles."""
    _check(method)
    if method == "none":
        return np.asarray(tiles)
    return normalise_with_stats(tiles, method)[0]


def normalise_with_stats(
    tiles: np.ndarray, method: str, progress=None
) -> tuple[np.ndarray, list[PhaseStats]]:
    """:func:`normalise_tiles` plus the phase front end's statistics of every tile.

    The statistics are computed for every method (the out-of-distribution check uses
    them); ``progress(fraction, message)`` is called per tile.
    """
    _check(method)
    a = np.asarray(tiles)
    out, stats = [], []
    for i, t in enumerate(a):
        active, st = segment_active(t)
        stats.append(st)
        if method == "phases":
            out.append(canonical_tile(active))
        elif method == "robust":
            out.append(robust_tile(t))
        if progress is not None:
            progress((i + 1) / len(a), "normalising tiles")
    return (np.stack(out) if out else a), stats


def phase_stats(tiles: np.ndarray) -> list[PhaseStats]:
    """The phase front end's statistics of each (H, W, 3) uint8 tile."""
    return [segment_active(t)[1] for t in np.asarray(tiles)]
