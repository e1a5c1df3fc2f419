"""A TIFF image level read tile by tile: slicing decodes only the tiles it touches.

Chosen over ``tifffile.aszarr`` + zarr to avoid a new dependency: tifffile already
gives each page's segment offsets, byte counts and a ``decode`` function for its
compression, which is all a region read needs. Strip-organised pages work the same
way (a strip is a segment spanning the full width).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.io.lazy import RegionLevel
from ratescope.core.io.limits import check_decode


class LazyTiffLevel(RegionLevel):
    """One resolution level of a TIFF, sliceable like a numpy array.

    Parameters
    ----------
    path : Path
        The TIFF file (opened anew for each read, so no handle stays open).
    page : tifffile.TiffPage
        The level's page; its geometry and decoder are copied, not kept open.

    Attributes
    ----------
    shape : tuple of int
        (H, W) for gray or (H, W, 3) for colour (an alpha sample is dropped).
    dtype : numpy.dtype
        As stored in the file.
    """

    def __init__(self, path: Path, page: Any):
        self.path = Path(path)
        h, w = int(page.imagelength), int(page.imagewidth)
        samples = int(page.samplesperpixel)
        self._samples = samples
        self.shape: tuple[int, ...] = (h, w) if samples == 1 else (h, w, 3)
        self.dtype = np.dtype(page.dtype)
        if page.is_tiled:
            self._seg_h, self._seg_w = int(page.tilelength), int(page.tilewidth)
        else:
            self._seg_h, self._seg_w = max(1, min(int(page.rowsperstrip or h), h)), w
        self._ncols = math.ceil(w / self._seg_w)
        self._offsets = np.asarray(page.dataoffsets, dtype=np.int64)
        self._counts = np.asarray(page.databytecounts, dtype=np.int64)
        self._decode = page.decode
        self._jpegtables = page.jpegtables

    @property
    def segment_shape(self) -> tuple[int, int]:
        """(height, width) of one stored tile or strip."""
        return self._seg_h, self._seg_w

    def read_region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` (clipped to the image), decoding only their tiles."""
        h, w = self.shape[:2]
        y0, y1, x0, x1 = max(0, y0), min(h, y1), max(0, x0), min(w, x1)
        out = np.zeros((max(0, y1 - y0), max(0, x1 - x0), *self.shape[2:]), self.dtype)
        if out.size == 0:
            return out
        check_decode(y1 - y0, x1 - x0, 3 if len(self.shape) > 2 else 1, self.dtype.itemsize,
                     self.path, "this region")  # fmt: skip
        kind = "one stored tile" if self._seg_w < w else "one stored strip"
        check_decode(self._seg_h, self._seg_w, self._samples, self.dtype.itemsize, self.path, kind)
        rows = range(y0 // self._seg_h, (y1 - 1) // self._seg_h + 1)
        cols = range(x0 // self._seg_w, (x1 - 1) // self._seg_w + 1)
        with open(self.path, "rb") as f:
            for r in rows:
                for c in cols:
                    self._paste(f, r, c, out, y0, x0)
        return out

    def _paste(self, f, r: int, c: int, out: np.ndarray, y0: int, x0: int) -> None:
        index = r * self._ncols + c
        if index >= len(self._offsets) or self._counts[index] == 0:
            return  # sparse file: a tile never written reads as zeros
        f.seek(int(self._offsets[index]))
        data = f.read(int(self._counts[index]))
        if len(data) < self._counts[index]:
            raise RateScopeError(
                "the file is truncated: image data is missing at its end", self.path
            )
        try:
            seg = self._decode(data, index, jpegtables=self._jpegtables)[0]
        except Exception as e:
            raise RateScopeError(
                f"a tile of the image is damaged and cannot be decoded ({e})", self.path
            ) from e
        seg = np.asarray(seg).reshape(seg.shape[-3], seg.shape[-2], self._samples)
        seg = seg[..., 0] if self._samples == 1 else seg[..., :3]
        ty, tx = r * self._seg_h, c * self._seg_w
        sy0, sx0 = max(y0, ty), max(x0, tx)
        sy1 = min(y0 + out.shape[0], ty + seg.shape[0])
        sx1 = min(x0 + out.shape[1], tx + seg.shape[1])
        if sy1 > sy0 and sx1 > sx0:
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = seg[
                sy0 - ty : sy1 - ty, sx0 - tx : sx1 - tx
            ]
