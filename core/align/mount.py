"""Mount epoxy: the epoxy above the coating, told apart from the epoxy in its pores.

Both are the same resin and look alike; what tells them apart is where they are. Mount
epoxy is what a flat probe ``probe_px`` wide, lowered from above the coating, reaches
without touching a grain; pores between the grains, narrower than the probe or under a
grain, are out of its reach. A grain stops the probe only when it holds for a few rows
(a speck in the resin or the thin bright rim of an air bubble does not).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def mount_floor(
    straight_coarse: np.ndarray,
    solid_level: float,
    factor: int,
    width: int,
    *,
    probe_px: float = 16.0,
    solid_px: float = 12.0,
) -> np.ndarray:
    """Per straightened column, the row down to which the mount epoxy reaches.

    Parameters
    ----------
    straight_coarse : ndarray, shape (h, w), float32
        Straightened ``factor`` x ``factor`` block-mean gray image with the coating below
        the mount (NaN = outside the image: no grain there).
    solid_level : float
        Gray level above which a pixel is grain.
    factor : int
        Block size of ``straight_coarse``.
    width : int
        Full-resolution width of the straightened image (the length of the result).
    probe_px : float
        Width of the probe, full-resolution px.
    solid_px : float
        Thickness (px) of grain under the probe that stops it.

    Returns
    -------
    ndarray, shape (width,), float
        Full-resolution straightened row of the probe's tip per column: rows above it are
        mount epoxy.
    """
    solid = np.nan_to_num(straight_coarse, nan=0.0) > solid_level
    h = solid.shape[0]
    half = int(round(probe_px / factor / 2))
    blocked = ndi.maximum_filter1d(solid, 2 * half + 1, axis=1) if half > 0 else solid
    held = blocked.copy()
    for k in range(1, max(int(round(solid_px / factor)), 1)):
        held[:-k] &= blocked[k:]
        held[h - k :] = False
    first = np.where(held.any(axis=0), np.argmax(held, axis=0), h).astype(float) * factor
    floor = np.repeat(first, factor)[:width]
    if len(floor) < width:
        floor = np.pad(floor, (0, width - len(floor)), mode="edge")
    return floor
