"""Reflectance of each phase in bright-field reflected light, before the camera sees it.

Values are relative reflectance in [0, 1] (1 = a perfect mirror under the lamp): the Al
foil is the brightest phase, polished NCM a bright grey with grain-to-grain variation and
darker rims (polishing relief), carbon-binder a darker grainy grey with brighter flakes,
epoxy (mount and pores) dark with a faint texture.
"""

from __future__ import annotations

import numpy as np

from ratescope.core.synth.microstructure import Band
from ratescope.core.synth.noise import smooth_noise
from ratescope.core.synth.phases import Phase

EPOXY = 0.075
PORE = 0.062
BINDER = 0.14
PARTICLE = 0.60
FOIL = 0.90
CRACK = 0.07
GRAIN_SPREAD = 0.06
"""Relative standard deviation of the brightness of one particle against another."""


def foil_scratches(rng: np.random.Generator, shape: tuple[int, int], count: int) -> np.ndarray:
    """Faint straight polishing scratches: relative brightness change, float32 ``shape``.

    Each is a segment 25-150 µm long at a shallow random angle, 1-2 px wide, a few per
    cent brighter or darker. Apply it to the foil only.
    """
    h, w = shape
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(count):
        length = rng.uniform(200.0, 1200.0)
        a = rng.uniform(-0.35, 0.35)
        d = np.array([np.cos(a), np.sin(a)])
        p = np.array([rng.uniform(0, w), rng.uniform(0, h)]) - d * length / 2
        q = p + d * length
        x0, x1 = max(int(min(p[0], q[0])) - 3, 0), min(int(max(p[0], q[0])) + 4, w)
        y0, y1 = max(int(min(p[1], q[1])) - 3, 0), min(int(max(p[1], q[1])) + 4, h)
        if x1 <= x0 or y1 <= y0:
            continue
        gx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(p[0])
        gy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(p[1])
        t = np.clip(gx * d[0] + gy * d[1], 0.0, length)
        dist2 = (gx - t * d[0]) ** 2 + (gy - t * d[1]) ** 2
        amp = rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.05)
        out[y0:y1, x0:x1] += np.float32(amp) * np.exp(-dist2 / np.float32(rng.uniform(0.5, 1.5)))
    return out


def reflectance(
    rng: np.random.Generator,
    band: Band,
    height: int,
    width: int,
    foil_px: float,
    grain_gain: np.ndarray,
) -> np.ndarray:
    """Reflectance image of the whole cross-section, float32 (height, width).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of texture.
    band : Band
        The rendered layer rows.
    height, width : int
        Image size, px.
    foil_px : float
        Foil thickness, px.
    grain_gain : ndarray of float, shape (n_sections,)
        Brightness factor of each particle.
    """
    out = smooth_noise(rng, (height, width), 48)
    out *= np.float32(0.12 * EPOXY)
    out += np.float32(EPOXY)
    rows = slice(band.row0, band.row1)
    under = band.under_foil
    ref = np.where(under == Phase.PORE, out[rows] * np.float32(PORE / EPOXY), out[rows])
    binder = BINDER * (1.0 + 0.25 * band.flakes)
    ref = np.where(under == Phase.BINDER, binder, ref)
    gains = (PARTICLE * grain_gain).astype(np.float32)
    rim = np.clip(band.depth_px, 0.0, 3.0)
    rim *= np.float32(0.28 / 3.0)
    rim += np.float32(0.72)
    particle = np.take(gains, np.maximum(band.owner, 0)) * rim
    particle *= 1.0 + 0.03 * band.flakes
    particle *= np.where(band.flakes > 2.4, np.float32(0.55), np.float32(1.0))  # inner pores
    ref = np.where(under == Phase.PARTICLE, particle, ref)
    cracked = np.flatnonzero(band.crack)
    opacity = band.crack.ravel()[cracked]
    ref.ravel()[cracked] += opacity * (CRACK - ref.ravel()[cracked])

    v = band.v
    ends = np.stack([v[:, 0], v[:, -1]])
    touched = np.flatnonzero((ends.max(0) > -foil_px - 0.5) & (ends.min(0) < 0.5))
    if touched.size:
        a, b = touched[0], touched[-1] + 1
        vv = v[a:b]
        cover = np.minimum(np.clip(0.5 - vv, 0.0, 1.0), np.clip(vv + foil_px + 0.5, 0.0, 1.0))
        foil = smooth_noise(rng, vv.shape, 64)
        foil *= np.float32(0.012)
        foil += foil_scratches(rng, vv.shape, int(rng.integers(3, 9)))
        foil += np.float32(1.0)
        foil *= np.float32(FOIL)
        foil -= ref[a:b]
        foil *= cover
        ref[a:b] += foil
    out[rows] = ref
    return out
