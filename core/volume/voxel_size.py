"""Voxel size (µm, ``(z, y, x)``) of a volume from its file's metadata, or None.

Sources, first found wins:

* **OME-TIFF**: ``PhysicalSizeX/Y/Z`` of the first ``Pixels`` element, each with its
  ``PhysicalSize*Unit`` (default µm). A missing Z takes X.
* **ImageJ hyperstack TIFF**: X and Y resolution tags (pixels per ``unit``) and
  ``spacing`` (z, in ``unit``); without ``spacing`` the voxel is taken as cubic.
* **Plain TIFF**: X/Y resolution with ResolutionUnit inch or centimetre (z = x).
* **HDF5**: on the dataset, then its parent groups up to the file: ``element_size_um``
  (z, y, x: ilastik / Fiji convention), ``voxel_size_um``, ``pixel_size_um``, or
  ``voxel_size`` / ``element_size_um`` / ``spacing`` / ``resolution`` with a ``unit`` or
  ``units`` attribute (default µm). One value means cubic voxels; three are (z, y, x).

Values outside :data:`core.io.pixel_size.PLAUSIBLE_UM` are treated as missing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from core.io.pixel_size import plausible

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


def _complete(z: float | None, y: float | None, x: float | None) -> Voxel | None:
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
            return _complete(size["Z"], size["Y"], size["X"])
    return None


def _per_unit(tag) -> float | None:
    if tag is None:
        return None
    value = tag.value
    num, den = value if isinstance(value, tuple) else (value, 1)
    return num / den if num and den else None


def tiff_voxel(tf) -> Voxel | None:
    """Voxel size of an open ``tifffile.TiffFile`` (OME, ImageJ or resolution tags)."""
    if getattr(tf, "is_ome", False):
        found = ome_voxel(tf.ome_metadata)
        if found is not None:
            return found
    tags = tf.pages.first.tags
    px, py = _per_unit(tags.get("XResolution")), _per_unit(tags.get("YResolution"))
    if px is None:
        return None
    py = py or px
    ij = tf.imagej_metadata or {}
    if ij.get("unit"):
        x, y = to_um(1.0 / px, ij["unit"]), to_um(1.0 / py, ij["unit"])
        z = to_um(ij["spacing"], ij["unit"]) if "spacing" in ij else None
        return _complete(z, y, x)
    res_unit = int(getattr(tags.get("ResolutionUnit"), "value", 1))
    unit = {2: "inch", 3: "cm"}.get(res_unit)
    if unit is None:
        return None
    scale = 25400.0 if unit == "inch" else 1e4
    return _complete(None, plausible(scale / py), plausible(scale / px))


def _attr_sizes(value, unit) -> Voxel | None:
    v = np.atleast_1d(np.asarray(value, dtype=float)).reshape(-1)
    v = np.repeat(v, 3) if v.size == 1 else v[-3:]
    if v.size != 3:
        return None
    sizes = [to_um(float(s), unit) for s in v]
    return tuple(sizes) if all(s is not None for s in sizes) else None


def hdf5_voxel(ds) -> Voxel | None:
    """Voxel size from the attributes of an ``h5py.Dataset`` or of its parent groups."""
    obj, seen = ds, set()
    while obj is not None and obj.name not in seen:
        seen.add(obj.name)
        attrs = obj.attrs
        for key in ("element_size_um", "voxel_size_um", "pixel_size_um"):
            if key in attrs:
                found = _attr_sizes(attrs[key], "um")
                if found is not None:
                    return found
        unit = attrs.get("unit", attrs.get("units", "um"))
        for key in ("voxel_size", "spacing", "resolution", "element_size"):
            if key in attrs:
                found = _attr_sizes(attrs[key], unit)
                if found is not None:
                    return found
        obj = obj.parent if obj.name != "/" else None
    return None
