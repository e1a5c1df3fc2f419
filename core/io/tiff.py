"""TIFF, BigTIFF and OME-TIFF, including tiled pyramids (tifffile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.io.lazy import Deferred
from ratescope.core.io.lazy_tiff import LazyTiffLevel
from ratescope.core.io.limits import check_dimensions
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.pixel_size import ome_voxel, plausible, resolve_pixel_size, to_um

EAGER_BYTES = 256 * 1024**2
"""Levels up to this size are decoded whole on first access and kept; larger are read
tile by tile."""

_SUPPORTED_DTYPES = (np.uint8, np.uint16)


def read_tiff(path: str | Path, pixel_size_um: float | None = None) -> Mosaic:
    """Read a TIFF / BigTIFF / OME-TIFF as a :class:`Mosaic`, lazily when large.

    Parameters
    ----------
    path : str or Path
        The TIFF file.
    pixel_size_um : float, optional
        Overrides the pixel size stored in the file.

    Returns
    -------
    Mosaic
        ``levels`` holds every pyramid level (sub-IFDs or OME/series levels), full
        resolution first. Nothing is decoded at open: when level 0 is over
        :data:`EAGER_BYTES` every level is a :class:`LazyTiffLevel` read tile by tile,
        otherwise a :class:`Deferred` decoded whole on first access.

    Raises
    ------
    RateScopeError
        Damaged, truncated, absurdly large, no image data, or an unsupported pixel type.
    """
    import tifffile

    path = Path(path)
    size = path.stat().st_size
    try:
        tf = tifffile.TiffFile(path)
    except Exception as e:
        raise RateScopeError(
            f"the TIFF file is damaged or truncated and cannot be read ({_first_line(e)})", path
        ) from e
    with tf:
        try:
            series = tf.series[0] if tf.series else None
            pages = [lvl.keyframe for lvl in series.levels] if series is not None else []
        except Exception as e:
            raise RateScopeError(f"the TIFF file is damaged ({_first_line(e)})", path) from e
        if not pages or pages[0] is None:
            raise RateScopeError("the file holds no image data", path)
        try:  # a damaged tag can give any attribute a value of the wrong type
            p0 = pages[0]
            nbytes0 = int(p0.imagelength) * int(p0.imagewidth) * min(3, int(p0.samplesperpixel))
            eager = nbytes0 * np.dtype(p0.dtype).itemsize <= EAGER_BYTES  # else none decoded
            levels = [_level(path, p, size, eager) for p in pages]
            from_file = _ome_pixel_size(tf.ome_metadata) if tf.is_ome else None
            if from_file is None:
                from_file = _tag_pixel_size(pages[0], tf.imagej_metadata)
            metadata = _metadata(tf, series, pages, levels)
            fmt = "OME-TIFF" if tf.is_ome else "TIFF"
        except RateScopeError:
            raise
        except Exception as e:
            raise RateScopeError(f"the TIFF file is damaged ({_first_line(e)})", path) from e
    value, source = resolve_pixel_size(from_file, pixel_size_um)
    return Mosaic(path, fmt, levels, value, source, metadata)


def _level(path: Path, page: Any, file_size: int, eager: bool) -> Deferred | LazyTiffLevel:
    h, w = _whole(page, "imagelength", path), _whole(page, "imagewidth", path)
    check_dimensions(h, w, path)
    if np.dtype(page.dtype) not in _SUPPORTED_DTYPES:
        raise RateScopeError(
            f"its pixels are {np.dtype(page.dtype).name}; only 8- and 16-bit images are supported",
            path,
        )
    samples, planar = _whole(page, "samplesperpixel", path), _whole(page, "planarconfig", path)
    if samples not in (1, 3, 4) or planar != 1 or _whole(page, "imagedepth", path) > 1:
        raise RateScopeError(
            f"its pixel layout ({samples} samples, planar configuration {planar}) is not "
            "supported; save it as gray or RGB",
            path,
        )
    if page.is_tiled:
        th, tw = _whole(page, "tilelength", path), _whole(page, "tilewidth", path)
        if th < 1 or tw < 1:
            raise RateScopeError(f"the TIFF file is damaged: its tiles are {tw} x {th} px", path)
    offsets = np.asarray(page.dataoffsets, dtype=np.int64)
    counts = np.asarray(page.databytecounts, dtype=np.int64)
    if offsets.size == 0 or not counts.any():
        raise RateScopeError("the file holds no image data", path)
    if int((offsets + counts).max()) > file_size:
        raise RateScopeError(
            "the file is truncated: its image data ends past the end of the file", path
        )
    level = LazyTiffLevel(path, page)  # each read checks its tiles against the budget
    return Deferred(level.shape, level.dtype, lambda: level[:, :]) if eager else level


def _whole(page: Any, name: str, path: Path) -> int:
    """An integer attribute of ``page`` (a damaged tag can make it a tuple, bytes or text)."""
    value = getattr(page, name)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise RateScopeError(f"the TIFF file is damaged: its {name} is {value!r:.40}", path)


def _ome_pixel_size(xml: str | None) -> float | None:
    """PhysicalSizeX of the first OME ``Pixels`` element, in µm."""
    voxel = ome_voxel(xml)
    return voxel[2] if voxel else None


def _tag_pixel_size(page: Any, imagej: dict | None) -> float | None:
    """Pixel size in µm from XResolution and ResolutionUnit (or ImageJ's unit)."""
    tag = page.tags.get("XResolution")
    if tag is None:
        return None
    num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
    if not num or not den:
        return None
    per_unit = num / den  # pixels per unit
    unit = int(page.tags["ResolutionUnit"].value) if "ResolutionUnit" in page.tags else 2
    if unit == 2:
        return plausible(25400.0 / per_unit)
    if unit == 3:
        return plausible(10000.0 / per_unit)
    return to_um(1.0 / per_unit, (imagej or {}).get("unit", ""))


def _metadata(tf: Any, series: Any, pages: list, levels: list) -> dict[str, Any]:
    p0 = pages[0]
    meta: dict[str, Any] = {
        "bigtiff": bool(tf.is_bigtiff),
        "levels": [list(lv.shape) for lv in levels],
        "compression": str(getattr(p0.compression, "name", p0.compression)),
        "tiles": len(p0.dataoffsets) if p0.is_tiled else 0,
        "tile_shape": [int(p0.tilelength), int(p0.tilewidth)] if p0.is_tiled else None,
        "lazy": not isinstance(levels[0], Deferred),
    }
    if len(series.shape) > len(levels[0].shape):
        meta["note"] = f"only the first plane of a {series.axes} stack {series.shape} is shown"
    for key, tag in (("instrument", "Model"), ("make", "Make"), ("software", "Software")):
        if tag in p0.tags and str(p0.tags[tag].value).strip():
            meta[key] = str(p0.tags[tag].value).strip()
    return meta


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:160]
