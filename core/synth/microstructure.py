"""Rasterise packed particle sections into the phases of a cross-section.

Works on the band of image rows that holds the layer (coating and foil). Particles are
circles; the share of particle pixels inside the coating is set exactly by one global
scale of the packed circles (a threshold on the normalised distance field), the
carbon-binder share by a threshold on closeness-to-particles plus flaky noise, the rest
of the coating is epoxy-filled pore.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ratescope.core.synth.layer_frame import LayerFrame
from ratescope.core.synth.noise import smooth_noise, standard_normal
from ratescope.core.synth.packing import Sections
from ratescope.core.synth.phases import Phase

SURFACE = 10.0
"""Offset that marks surface particles in the distance field."""
GROWTH_ALLOWANCE = 0.25
"""Circles may grow by this fraction of their radius when the packing fell short."""


@dataclass
class Band:
    """The rows ``row0:row1`` of the image that hold the layer, with their fields.

    Attributes
    ----------
    row0, row1 : int
        Row range in the image.
    u, v : ndarray of float32, shape (row1 - row0, width)
        Layer coordinates of the pixel centres, px.
    phase : ndarray of uint8
        :class:`Phase` labels.
    under_foil : ndarray of uint8
        Labels as if the coating went on half a pixel into the foil (edge blending).
    owner : ndarray of int32
        Index into the sections of the particle a pixel belongs to, -1 elsewhere.
    depth_px : ndarray of float32
        Distance inside the particle from its edge, px (approximate, 0 outside).
    crack : ndarray of float32
        Opacity of cracks in [0, 1].
    flakes : ndarray of float32
        Zero-mean unit-variance fine noise, elongated along x (carbon flakes, texture).
    radius_scale : float
        Factor applied to the packed interior section radii to match the particle share.
    """

    row0: int
    row1: int
    u: np.ndarray
    v: np.ndarray
    phase: np.ndarray
    under_foil: np.ndarray
    owner: np.ndarray
    depth_px: np.ndarray
    crack: np.ndarray
    flakes: np.ndarray
    radius_scale: float


def _splat(field, owner, frame, sections, index, row0, reach, boost=None):
    """Write ``1 - d/r`` of each circle into ``field`` where it beats what is there.

    With ``boost``, only the circle's inside is written, as ``1 - d/r + boost``.
    """
    h, w = field.shape
    xs, ys = frame.to_image(sections.u, sections.v)
    for k in index:
        cx, cy, r = xs[k], ys[k] - row0, sections.r[k]
        ext = r * reach
        x0, x1 = max(int(cx - ext), 0), min(int(cx + ext) + 2, w)
        y0, y1 = max(int(cy - ext), 0), min(int(cy + ext) + 2, h)
        if x1 <= x0 or y1 <= y0:
            continue
        dx = np.arange(x0, x1, dtype=np.float32) - np.float32(cx)
        dy = np.arange(y0, y1, dtype=np.float32) - np.float32(cy)
        f = 1.0 - np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2) / np.float32(r)
        sub, own = field[y0:y1, x0:x1], owner[y0:y1, x0:x1]
        if boost is not None:
            f = np.where(f > 0, f + np.float32(boost), np.float32(-np.inf))
        better = f > sub
        sub[better] = f[better]
        own[better] = k


def _sample_uniform_grid(u: np.ndarray, u_grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values`` on the unit-spaced ``u_grid`` at ``u`` (float32)."""
    pos = np.clip(u - np.float32(u_grid[0]), 0, len(u_grid) - 1.001)
    i = pos.astype(np.intp)
    pos -= i
    table = values.astype(np.float32)
    lo = np.take(table, i)
    return lo + pos * (np.take(table, i + 1) - lo)


def _kth_largest_threshold(values: np.ndarray, count: int) -> float:
    """Threshold t such that ``count`` of ``values`` are > t (ties aside)."""
    if count <= 0:
        return float(values.max()) if values.size else 0.0
    if count >= values.size:
        return float(values.min()) - 1.0
    k = values.size - count
    part = np.partition(values, [k - 1, k])
    return float(0.5 * (part[k - 1] + part[k]))


def render_band(
    rng: np.random.Generator,
    frame: LayerFrame,
    sections: Sections,
    u_grid: np.ndarray,
    surface: np.ndarray,
    rows: tuple[int, int],
    width: int,
    foil_px: float,
    particle_share: float,
    binder_share: float,
) -> Band:
    """Phases of the rows ``rows`` of the image.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the binder and texture noise.
    frame : LayerFrame
        Where the layer lies in the image.
    sections : Sections
        Packed particle circles (surface chain included), px.
    u_grid, surface : ndarray
        Surface height ``surface`` (px above the collector) sampled at ``u_grid`` (px).
    rows : (int, int)
        Image rows ``row0:row1`` of the band.
    width : int
        Image width, px.
    foil_px : float
        Foil thickness, px.
    particle_share, binder_share : float
        Area fractions of particles and carbon-binder inside the coating.
    """
    row0, row1 = rows
    u, v = frame.uv_grids(row0, row1, width)
    s = _sample_uniform_grid(u, u_grid, surface)
    in_coating = (v >= 0) & (v < s)
    render_domain = (v >= -0.5) & (v < s)  # half a pixel under the foil edge, for blending

    field = np.full(u.shape, -10.0, dtype=np.float32)
    owner = np.full(u.shape, -1, dtype=np.int32)
    interior = np.flatnonzero(~sections.on_surface)
    _splat(field, owner, frame, sections, interior, row0, 1.0 + GROWTH_ALLOWANCE)
    field += 0.07 * smooth_noise(rng, field.shape, 12)  # slightly irregular outlines
    # surface particles stay exact circles and always win: stored as 1 - d/r + SURFACE
    on_top = np.flatnonzero(sections.on_surface)
    _splat(field, owner, frame, sections, on_top, row0, 1.0, boost=SURFACE)
    is_top = field > SURFACE / 2

    free = in_coating & ~is_top
    wanted = round(particle_share * np.count_nonzero(in_coating)) - np.count_nonzero(
        is_top & in_coating
    )
    t = max(_kth_largest_threshold(field[free], wanted), -GROWTH_ALLOWANCE)
    particle = (field > t) & render_domain
    np.copyto(owner, -1, where=~particle)
    depth_px = field - np.where(is_top, np.float32(SURFACE), np.float32(t))
    depth_px *= np.take(sections.r.astype(np.float32), np.maximum(owner, 0))
    np.copyto(depth_px, 0.0, where=~particle)

    flakes = ndimage.gaussian_filter(standard_normal(rng, u.shape), sigma=(1.0, 2.2), truncate=3.0)
    flakes /= max(float(flakes[::5, ::5].std()), 1e-6)
    gap = render_domain & ~particle
    near = ndimage.uniform_filter(particle.astype(np.float32), size=21)  # necks score high
    closeness = near + 0.08 * flakes
    want_binder = round(binder_share * np.count_nonzero(in_coating))
    tb = _kth_largest_threshold(closeness[gap & in_coating], want_binder)
    binder = gap & (closeness > tb)

    phase = np.where(render_domain, np.uint8(Phase.PORE), np.uint8(Phase.EPOXY))
    np.copyto(phase, np.uint8(Phase.BINDER), where=binder)
    np.copyto(phase, np.uint8(Phase.PARTICLE), where=particle)
    under_foil = phase.copy()
    np.copyto(phase, np.uint8(Phase.FOIL), where=(v < 0) & (v >= -foil_px))
    scale = (1.0 - t) if len(interior) else 1.0
    crack = np.zeros(u.shape, dtype=np.float32)
    return Band(row0, row1, u, v, phase, under_foil, owner, depth_px, crack, flakes, scale)


def add_cracks(
    rng: np.random.Generator,
    band: Band,
    frame: LayerFrame,
    sections: Sections,
    fraction: float,
    min_radius_px: float,
) -> None:
    """Crack ``fraction`` of the particles wider than ``min_radius_px`` (in place).

    A crack is a kinked line across the section, about 1-3 px wide, dark like epoxy.
    Its pixels become :attr:`Phase.CRACK`; ``band.crack`` holds its soft opacity.
    """
    h, w = band.phase.shape
    xs, ys = frame.to_image(sections.u, sections.v)
    ys = ys - band.row0
    r_now = np.where(sections.on_surface, sections.r, sections.r * band.radius_scale)
    visible = (xs > -r_now) & (xs < w + r_now) & (ys > -r_now) & (ys < h + r_now)
    candidates = np.flatnonzero(visible & (r_now > min_radius_px))
    chosen = candidates[rng.uniform(size=len(candidates)) < fraction]
    for k in chosen:
        r = r_now[k]
        x0, x1 = max(int(xs[k] - r) - 1, 0), min(int(xs[k] + r) + 2, w)
        y0, y1 = max(int(ys[k] - r) - 1, 0), min(int(ys[k] + r) + 2, h)
        if x1 <= x0 or y1 <= y0:
            continue
        a = rng.uniform(0, np.pi)
        d = np.array([np.cos(a), np.sin(a)])
        n = np.array([-d[1], d[0]])
        mid = np.array([xs[k], ys[k]]) + n * rng.uniform(-0.4, 0.4) * r
        kink = mid + d * rng.uniform(-0.3, 0.3) * r + n * rng.uniform(-0.25, 0.25) * r
        pts = [mid - 1.2 * r * d, kink, mid + 1.2 * r * d]
        px = np.arange(x0, x1, dtype=np.float32)[None, :]
        py = np.arange(y0, y1, dtype=np.float32)[:, None]
        dist = np.full((y1 - y0, x1 - x0), np.inf, dtype=np.float32)
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            seg = q - p
            tt = np.clip(((px - p[0]) * seg[0] + (py - p[1]) * seg[1]) / (seg @ seg), 0, 1)
            np.minimum(dist, np.hypot(px - p[0] - tt * seg[0], py - p[1] - tt * seg[1]), out=dist)
        mine = band.owner[y0:y1, x0:x1] == k
        mine &= band.phase[y0:y1, x0:x1] == Phase.PARTICLE
        width = rng.uniform(0.6, 1.3)
        opacity = np.exp(-0.5 * (dist / width) ** 2) * mine
        sub = band.crack[y0:y1, x0:x1]
        np.maximum(sub, opacity, out=sub)
        band.phase[y0:y1, x0:x1][mine & (dist < width)] = Phase.CRACK
