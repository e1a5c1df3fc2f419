"""Polydisperse particle sections packed into a coating, in the foil-aligned frame.

A polished cross-section cuts spheres at random heights, so the section circles are
smaller than the spheres and their sizes vary even for equal spheres. Sampling them
directly: a plane meets a sphere with probability proportional to its radius (the
size-biased distribution), and the cut lies uniformly in ``[-R, R]`` from the centre, so
the section radius is ``R * sqrt(1 - w**2)`` with ``w`` uniform in ``[-1, 1]``.

All lengths here are in pixels of the layer frame (see :mod:`core.synth.layer_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

MAX_RADIUS_SIGMAS = 2.5
"""Sphere radii are truncated at ``median * exp(2.5 * spread)`` (the powder's sieve cut)."""


@dataclass
class Sections:
    """Section circles of particles.

    Attributes
    ----------
    u, v : ndarray of float64, shape (n,)
        Centre along the foil and height above the collector top edge, px.
    r : ndarray of float64, shape (n,)
        Section radius, px.
    sphere_r : ndarray of float64, shape (n,)
        Radius of the sphere that was cut, px.
    on_surface : ndarray of bool, shape (n,)
        True for the particles whose tops form the coating surface.
    """

    u: np.ndarray
    v: np.ndarray
    r: np.ndarray
    sphere_r: np.ndarray
    on_surface: np.ndarray

    def __len__(self) -> int:
        return len(self.r)


def sample_sections(
    rng: np.random.Generator, n: int, median_px: float, spread: float, w_max: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Sphere radii (size-biased lognormal, truncated) and their section radii, px."""
    mu = np.log(median_px) + spread**2  # size-biased: weight R shifts log-mean by sigma^2
    upper = median_px * np.exp(MAX_RADIUS_SIGMAS * spread)
    big_r = np.minimum(rng.lognormal(mu, spread, n), upper)
    w = rng.uniform(-w_max, w_max, n)
    return big_r, big_r * np.sqrt(1.0 - w**2)


def surface_chain(
    rng: np.random.Generator,
    u_lo: float,
    u_hi: float,
    top_px: float,
    median_px: float,
    spread: float,
    roughness_px: float,
) -> Sections:
    """A row of overlapping particles whose tops form the rough coating surface.

    Neighbours are closer along ``u`` than the sum of their radii, so the union of their
    circles spans every ``u`` in ``[u_lo, u_hi]``: just below the surface there is always
    particle. Tops scatter about ``top_px`` with standard deviation ``roughness_px``.
    """
    n = int((u_hi - u_lo) / (0.5 * median_px)) + 8
    big_r, r = sample_sections(rng, n, median_px, spread, w_max=0.85)
    gaps = rng.uniform(0.55, 0.95, n - 1) * (r[:-1] + r[1:])
    u = u_lo - 0.5 * r[0] + np.concatenate([[0.0], np.cumsum(gaps)])
    keep = (u - r) <= u_hi
    tops = top_px + np.clip(rng.normal(0.0, roughness_px, n), -2 * roughness_px, 2 * roughness_px)
    u, r, big_r, tops = u[keep], r[keep], big_r[keep], tops[keep]
    return Sections(u, tops - r, r, big_r, np.ones(len(r), dtype=bool))


def surface_height(chain: Sections, u_grid: np.ndarray) -> np.ndarray:
    """Height of the coating surface (upper envelope of the chain) at ``u_grid``, px."""
    s = np.full(u_grid.shape, -np.inf)
    step = u_grid[1] - u_grid[0]
    for cu, cv, r in zip(chain.u, chain.v, chain.r, strict=True):
        i0 = max(int(np.ceil((cu - r - u_grid[0]) / step)), 0)
        i1 = min(int(np.floor((cu + r - u_grid[0]) / step)) + 1, len(u_grid))
        if i1 <= i0:
            continue
        du = u_grid[i0:i1] - cu
        np.maximum(s[i0:i1], cv + np.sqrt(np.maximum(r * r - du * du, 0.0)), out=s[i0:i1])
    return s


def pack_interior(
    rng: np.random.Generator,
    u_grid: np.ndarray,
    surface: np.ndarray,
    chain: Sections,
    target_area: float,
    median_px: float,
    spread: float,
    min_gap: float = 0.08,
    iterations: int = 24,
) -> Sections:
    """Sections below the surface whose areas add up to ``target_area`` px², relaxed apart.

    Circles start at random places under the surface and are pushed apart (the surface
    chain stays fixed) until neighbours overlap by at most ``min_gap`` of their summed
    radii, like particles pressed together by calendering. Centres stay at least
    half a section radius above the collector (calendering presses particles into the foil) and
    half a section radius below the surface.
    """
    mean_area = np.pi * (2.0 / 3.0) * median_px**2 * np.exp(4 * spread**2)
    n_guess = int(1.3 * target_area / mean_area) + 16
    big_r, r = sample_sections(rng, n_guess, median_px, spread)
    while np.pi * np.sum(r**2) < target_area:
        more_big, more = sample_sections(rng, n_guess, median_px, spread)
        big_r, r = np.concatenate([big_r, more_big]), np.concatenate([r, more])
    n = int(np.searchsorted(np.cumsum(np.pi * r**2), target_area)) + 1
    big_r, r = big_r[:n], r[:n]

    u, frac = _jittered_lattice(rng, n, u_grid[-1] - u_grid[0], float(np.mean(surface)))
    u += u_grid[0]
    v_lo = 0.5 * r
    v_hi = np.maximum(np.interp(u, u_grid, surface) - 0.5 * r, v_lo)
    v = v_lo + frac * (v_hi - v_lo)

    m = len(chain)
    pos = np.column_stack([np.concatenate([u, chain.u]), np.concatenate([v, chain.v])])
    rad = np.concatenate([r, chain.r])
    mobile = np.concatenate([np.ones(n), np.zeros(m)])
    reach = 2.0 * rad.max()
    pairs = np.empty((0, 2), dtype=np.intp)
    for it in range(iterations):
        if it % 6 == 0:
            pairs = cKDTree(pos).query_pairs(reach, output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
        d = pos[j] - pos[i]
        dist = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
        push = (1.0 - min_gap) * (rad[i] + rad[j]) - dist
        hit = (push > 0) & (mobile[i] + mobile[j] > 0)
        if not hit.any():
            break
        i, j, d, dist, push = i[hit], j[hit], d[hit], dist[hit], push[hit]
        share_i = mobile[i] / (mobile[i] + mobile[j])
        step = d / dist[:, None] * push[:, None]
        shift = np.zeros_like(pos)
        for axis in (0, 1):
            shift[:, axis] -= np.bincount(i, step[:, axis] * share_i, len(pos))
            shift[:, axis] += np.bincount(j, step[:, axis] * (1.0 - share_i), len(pos))
        pos[:n] += 0.8 * shift[:n]
        pos[:n, 0] = np.clip(pos[:n, 0], u_grid[0], u_grid[-1])
        top = np.interp(pos[:n, 0], u_grid, surface) - 0.5 * r
        pos[:n, 1] = np.clip(pos[:n, 1], v_lo, np.maximum(top, v_lo))
    return Sections(pos[:n, 0], pos[:n, 1], r, big_r, np.zeros(n, dtype=bool))


def _jittered_lattice(
    rng: np.random.Generator, n: int, length: float, height: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points spread evenly but randomly: ``u`` in [0, length], height share in [0, 1].

    One point per cell of a lattice that fits the area, at a random place in its cell, in
    random order: no large empty patches as plain uniform sampling leaves.
    """
    rows = max(1, round(np.sqrt(n * height / max(length, 1.0))))
    cols = int(np.ceil(n / rows))
    cell = rng.permutation(rows * cols)[:n]
    u = (cell % cols + rng.uniform(0, 1, n)) / cols * length
    frac = (cell // cols + rng.uniform(0, 1, n)) / rows
    return u, frac
