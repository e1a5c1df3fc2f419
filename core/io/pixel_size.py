"""Where a pixel size comes from: the caller, the file, or the paper's default; and the
length units and OME ``PhysicalSize`` attributes files state it in (mosaics and volumes)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM

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


UNIT_TO_UM = {
    "µm": 1.0,
    "um": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "micrometre": 1.0,
    "nm": 1e-3,
    "nanometer": 1e-3,
    "mm": 1e3,
    "cm": 1e4,
    "m": 1e6,
}
"""Length units (lower case) to µm; ``\\u00b5m`` and the micro sign are normalised to µm."""

Voxel = tuple[float, float, float]


def to_um(value, unit) -> float | None:
    """``value`` in ``unit`` as µm, None for an unknown unit or an implausible size."""
    if isinstance(unit, bytes):
        unit = unit.decode("utf-8", "replace")
    u = str(unit).strip().lower().replace("\\u00b5", "µ").replace("\u03bc", "µ")
    if u not in UNIT_TO_UM:
        return None
    try:
        return plausible(float(value) * UNIT_TO_UM[u])
    except (TypeError, ValueError):
        return None


def complete_voxel(z: float | None, y: float | None, x: float | None) -> Voxel | None:
    """``(z, y, x)`` with a missing z or y taken from x; None without x."""
    if x is None:
        return None
    return (z if z is not None else x, y if y is not None else x, x)


def ome_voxel(xml: str | None) -> Voxel | None:
    """``(z, y, x)`` µm from the first OME ``Pixels`` element's PhysicalSize attributes."""
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for el in root.iter():
        if el.tag.endswith("}Pixels") or el.tag == "Pixels":
            size = {
                a: to_um(el.get(f"PhysicalSize{a}"), el.get(f"PhysicalSize{a}Unit", "µm"))
                if el.get(f"PhysicalSize{a}") is not None
                else None
                for a in "XYZ"
            }
            return complete_voxel(size["Z"], size["Y"], size["X"])
    return None
