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

import numpy as np

from ratescope.core.io.pixel_size import Voxel, complete_voxel, ome_voxel, plausible, to_um

__all__ = ["Voxel", "ome_voxel", "to_um", "tiff_voxel"]


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
        return complete_voxel(z, y, x)
    res_unit = int(getattr(tags.get("ResolutionUnit"), "value", 1))
    unit = {2: "inch", 3: "cm"}.get(res_unit)
    if unit is None:
        return None
    scale = 25400.0 if unit == "inch" else 1e4
    return complete_voxel(None, plausible(scale / py), plausible(scale / px))


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
