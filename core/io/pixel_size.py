"""Where a mosaic's pixel size comes from: the caller, the file, or the paper's default."""

from __future__ import annotations

import math

from core.constants import DEFAULT_PIXEL_SIZE_UM

PLAUSIBLE_UM = (1e-3, 100.0)
"""Pixel sizes outside this range (µm) are treated as missing: e.g. a 72 dpi tag."""


def plausible(value_um: float | None) -> float | None:
    """Return ``value_um`` if it is a believable micrograph pixel size, else None."""
    if value_um is None or not math.isfinite(value_um):
        return None
    lo, hi = PLAUSIBLE_UM
    return float(value_um) if lo <= value_um <= hi else None


def resolve_pixel_size(from_file: float | None, given: float | None) -> tuple[float, str]:
    """Pick the pixel size (µm) and its source.

    Parameters
    ----------
    from_file : float or None
        Pixel size read from the file's metadata, µm.
    given : float or None
        Pixel size the caller supplied, µm; wins when set.

    Returns
    -------
    (float, str)
        The size in µm and ``"user"``, ``"metadata"`` or ``"default"``.
    """
    if given is not None:
        if not (math.isfinite(given) and given > 0):
            raise ValueError(f"pixel size must be a positive number of µm, got {given}")
        return float(given), "user"
    found = plausible(from_file)
    if found is not None:
        return found, "metadata"
    return DEFAULT_PIXEL_SIZE_UM, "default"
