"""Preparation artefacts drawn into a rendered cross-section: pull-out voids, scratches,
epoxy bubbles. Each writes its :class:`Phase` label and changes the reflectance in place,
and returns a record with its type and bounding box in image pixels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ratescope.core.synth.layer_frame import LayerFrame
from ratescope.core.synth.microstructure import Band
from ratescope.core.synth.packing import Sections
from ratescope.core.synth.phases import COATING_PHASES, Phase

ARTEFACT_TYPES = ("bubble", "scratch", "void")
HOLE = 0.025
"""Reflectance of an empty hole (a pulled-out particle): darker than epoxy."""


def _bbox(mask: np.ndarray, row0: int = 0, col0: int = 0) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [
        int(xs.min()) + col0,
        int(ys.min()) + row0,
        int(xs.max()) + col0 + 1,
        int(ys.max()) + row0 + 1,
    ]


def add_voids(rng, phase, refl, frame: LayerFrame, sections: Sections, band: Band, px: float):
    """Pull out 1-3 large particles: their section (slightly enlarged, ragged) becomes a hole."""
    h, w = phase.shape
    xs, ys = frame.to_image(sections.u, sections.v)
    r_now = np.where(sections.on_surface, sections.r, sections.r * band.radius_scale)
    inside = (xs > r_now) & (xs < w - r_now) & (ys > band.row0 + r_now) & (ys < band.row1 - r_now)
    big = np.flatnonzero(inside & (r_now > max(3.0 * px, np.percentile(r_now, 70))))
    records = []
    for k in rng.permutation(big)[: int(rng.integers(1, 4))]:
        r, cx, cy = r_now[k], xs[k], ys[k]
        x0, x1 = max(int(cx - 1.4 * r), 0), min(int(cx + 1.4 * r) + 2, w)
        y0, y1 = max(int(cy - 1.4 * r), 0), min(int(cy + 1.4 * r) + 2, h)
        own = band.owner[y0 - band.row0 : y1 - band.row0, x0:x1] == k
        if own.sum() < 20:
            continue
        ragged = ndimage.gaussian_filter(rng.standard_normal(own.shape), 2.0) > -0.05
        grown = ndimage.binary_dilation(own, iterations=int(rng.integers(2, 6))) & ragged
        sub = phase[y0:y1, x0:x1]
        hole = (own | grown) & np.isin(sub, COATING_PHASES)
        sub[hole] = Phase.VOID
        refl[y0:y1, x0:x1][hole] = HOLE * (1.0 + 0.2 * rng.standard_normal(int(hole.sum())))
        records.append(
            {"type": "void", "label": int(Phase.VOID), "bbox": _bbox(hole, y0, x0),
             "area_px": int(hole.sum()), "centre": [float(cx), float(cy)]}
        )  # fmt: skip
    return records


def add_scratch(rng, phase, refl, frame: LayerFrame, band: Band, px: float):
    """One long straight polishing scratch across the coating, dark (groove) or bright."""
    h, w = phase.shape
    length = rng.uniform(80.0, 300.0) * px
    half_w = rng.uniform(0.8, 1.8)
    angle = math.radians(rng.uniform(-70.0, 70.0))  # from the layer normal
    mid_v = (
        float(np.median(band.v[np.isin(band.phase, COATING_PHASES)])) if band.phase.size else 0.0
    )
    cx, cy = frame.to_image(np.array(rng.uniform(-0.4, 0.4) * w), np.array(mid_v))
    d = np.array([math.sin(angle), math.cos(angle)])  # unit direction in the image
    p, q = np.array([cx, cy]) - d * length / 2, np.array([cx, cy]) + d * length / 2
    n = np.array([-d[1], d[0]]) * (half_w + 1.0)
    corners = [p - n, q - n, q + n, p + n]
    x0 = max(int(min(c[0] for c in corners)) - 1, 0)
    x1 = min(int(max(c[0] for c in corners)) + 2, w)
    y0 = max(int(min(c[1] for c in corners)) - 1, 0)
    y1 = min(int(max(c[1] for c in corners)) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return []
    gx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(p[0])
    gy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(p[1])
    t = np.clip(gx * d[0] + gy * d[1], 0.0, length)
    dist = np.hypot(gx - t * d[0], gy - t * d[1])
    profile = np.exp(-0.5 * (dist / half_w) ** 2)
    sub = refl[y0:y1, x0:x1]
    if rng.uniform() < 0.7:
        sub *= 1.0 - 0.6 * profile
    else:
        sub += profile * 0.7 * (0.75 - sub)
    mark = (dist <= half_w + 1.0) & np.isin(phase[y0:y1, x0:x1], COATING_PHASES)
    phase[y0:y1, x0:x1][mark] = Phase.SCRATCH
    if not mark.any():
        return []
    return [
        {"type": "scratch", "label": int(Phase.SCRATCH), "bbox": [x0, y0, x1, y1],
         "polygon": [[float(c[0]), float(c[1])] for c in corners], "width_px": 2 * half_w}
    ]  # fmt: skip


def add_bubble(rng, phase, refl, frame: LayerFrame, band: Band, px: float):
    """A round epoxy bubble in the mount, above the coating or below the foil, maybe touching."""
    h, w = phase.shape
    for _ in range(20):
        radius = rng.uniform(4.0, 20.0) * px
        x = rng.uniform(0.05, 0.95) * (w - 1)
        col = phase[:, int(x)]
        layer = np.flatnonzero(col != Phase.EPOXY)
        top, bottom = (layer[0], layer[-1]) if len(layer) else (h // 2, h // 2)
        if top >= h - bottom:
            y = top - radius * rng.uniform(0.4, 1.5)
        else:
            y = bottom + radius * rng.uniform(0.4, 1.5)
        x0, x1 = max(int(x - radius) - 2, 0), min(int(x + radius) + 3, w)
        y0, y1 = max(int(y - radius) - 2, 0), min(int(y + radius) + 3, h)
        if x1 <= x0 or y1 <= y0:
            continue
        gy, gx = np.ogrid[y0:y1, x0:x1]
        dist = np.hypot(gx - x, gy - y).astype(np.float32)
        sub = phase[y0:y1, x0:x1]
        mark = (dist < radius) & np.isin(sub, (Phase.EPOXY, Phase.PORE))
        if mark.sum() < 0.2 * np.pi * radius**2:
            continue
        ring = np.exp(-0.5 * ((dist - radius + 2.0) / 1.5) ** 2)
        inner = 0.045 + 0.03 * (dist / radius) ** 4 + 0.35 * ring
        refl[y0:y1, x0:x1][mark] = inner[mark]
        sub[mark] = Phase.BUBBLE
        return [
            {"type": "bubble", "label": int(Phase.BUBBLE), "bbox": _bbox(mark, y0, x0),
             "centre": [float(x), float(y)], "radius_px": float(radius)}
        ]  # fmt: skip
    return []


def add_artefacts(rng, kinds, phase, refl, frame, sections, band, px) -> list[dict]:
    """Draw the artefacts named in ``kinds`` (in place) and return their records.

    Parameters
    ----------
    rng : numpy.random.Generator
    kinds : iterable of {"void", "scratch", "bubble"}
    phase : ndarray of uint8, shape (H, W)
        Phase map, modified in place.
    refl : ndarray of float32, shape (H, W)
        Reflectance, modified in place.
    frame, sections, band :
        Geometry of the rendered layer.
    px : float
        Pixels per µm.
    """
    records: list[dict] = []
    for kind in sorted(kinds):
        if kind == "void":
            records += add_voids(rng, phase, refl, frame, sections, band, px)
        elif kind == "scratch":
            for _ in range(int(rng.integers(1, 3))):
                records += add_scratch(rng, phase, refl, frame, band, px)
        elif kind == "bubble":
            records += add_bubble(rng, phase, refl, frame, band, px)
    return records
