"""Whole-object defect maps for judging tiles: pull-out voids.

Voids are judged per *object*, not per tile crop: a tile that holds only a sliver of a
large pull-out void shows the artefact all the same, however little of it falls inside.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

_EIGHT = np.ones((3, 3), bool)


def void_diameters(
    g: np.ndarray, epoxy: float, factor: int = 2, dark_share: float = 0.6
) -> np.ndarray:
    """Per pixel of an empty hole, the diameter of the largest disc that fits in the hole.

    A pull-out void is empty, so darker than the epoxy that fills the pores and the mount
    (``g < dark_share * epoxy``). Each 8-connected dark object gets one value: twice its
    largest distance to the object's border, in full-resolution px.

    Parameters
    ----------
    g : ndarray, shape (h, w), float32
        Straightened gray image as ``factor`` x ``factor`` block means (NaN: invalid).
    epoxy : float
        Gray level of the epoxy.
    factor : int
        Block size of ``g``.
    dark_share : float
        A pixel is empty when darker than this share of the epoxy level.

    Returns
    -------
    ndarray, shape (h, w), float32
        0 outside voids.
    """
    dark = np.nan_to_num(g, nan=np.inf) < dark_share * epoxy
    out = np.zeros(g.shape, np.float32)
    if not dark.any():
        return out
    lab, _ = ndi.label(dark, _EIGHT)
    for k, sl in enumerate(ndi.find_objects(lab), start=1):
        own = lab[sl] == k
        if min(own.shape) < 2:  # at most one block across: diameter 2 * factor
            out[sl][own] = 2.0 * factor
            continue
        d = ndi.distance_transform_edt(np.pad(own, 1))[1:-1, 1:-1]
        out[sl][own] = 2.0 * float(d.max()) * factor
    return out
