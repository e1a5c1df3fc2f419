"""The straightened frame: a rotation that makes the collector horizontal, a vertical flip
when the coating lies below the foil, and a zoom to the models' pixel size.

Conventions: pixel ``(row r, column c)`` has its centre at ``x = c, y = r``; ``y`` grows
downwards. Straightened coordinates are ``(u, v)`` (column, row), in pixels of the size
the models were trained on. A straightened point maps to the source by

    du, dv = u - cu, s * (v - cv)            s = -1 when flipped, else 1
    x = cx + zoom * (cos(phi) * du - sin(phi) * dv)
    y = cy + zoom * (sin(phi) * du + cos(phi) * dv)

with ``phi = atan2(y1 - y0, x1 - x0)`` the collector's direction on screen
(``phi = -radians(angle_deg)``). For an alignment made on the whole image at the models'
pixel size, ``zoom = 1`` and both centres are the image centre ``((W - 1) / 2, (H - 1) / 2)``,
so the straightened image has the source's shape. An alignment made on a band of a large
mosaic, or on a mosaic resampled to the models' pixel size, keeps the frame of the pixels
it was made on (:meth:`Frame.to_mosaic`). Only straightened pixels whose source point lies
inside the image (``0 <= x <= W-1, 0 <= y <= H-1``) are valid; everything else is filled
with ``cval``. Interpolation is bilinear (``order=1``) unless asked otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi

from ratescope.core.align.collector import CollectorLine


@dataclass(frozen=True)
class Frame:
    """Rotation, flip and zoom from the source image to the straightened image.

    Attributes
    ----------
    phi : float
        Collector direction on screen in radians (``-radians(angle_deg)``).
    cx, cy : float
        Rotation centre in source pixels.
    flip : bool
        True when the straightened image is also flipped top-bottom (coating below foil).
    shape : tuple of int
        ``(H, W)`` of the source image.
    cu, cv : float or None
        The straightened point that maps to ``(cx, cy)``; None: ``(cx, cy)`` itself.
    zoom : float
        Source pixels per straightened pixel.
    """

    phi: float
    cx: float
    cy: float
    flip: bool
    shape: tuple[int, int]
    cu: float | None = None
    cv: float | None = None
    zoom: float = 1.0

    @classmethod
    def from_line(
        cls,
        line: CollectorLine,
        shape: tuple[int, ...],
        centre: tuple[float, float] | None = None,
        straight_centre: tuple[float, float] | None = None,
        zoom: float = 1.0,
    ) -> Frame:
        """The frame of ``line`` in an image of ``shape``, rotating about ``centre``
        (``(cx, cy)``, source px; default the image centre) onto ``straight_centre``."""
        h, w = int(shape[0]), int(shape[1])
        phi = math.atan2(line.y1 - line.y0, line.x1 - line.x0)
        cx, cy = centre if centre is not None else ((w - 1) / 2.0, (h - 1) / 2.0)
        cu, cv = straight_centre if straight_centre is not None else (None, None)
        return cls(phi, float(cx), float(cy), not line.coating_above, (h, w), cu, cv, zoom)

    @property
    def ucentre(self) -> tuple[float, float]:
        """``(cu, cv)``: the straightened point at the rotation centre."""
        return (self.cx if self.cu is None else self.cu, self.cy if self.cv is None else self.cv)

    def to_mosaic(self, y0: float, zoom: float, shape: tuple[int, ...], x0: float = 0.0) -> Frame:
        """The frame of pixels whose point ``(x, y)`` is mosaic point
        ``(x0 + zoom x, y0 + zoom y)`` (a band of rows, resampled), expressed for the mosaic
        (of ``shape``); the straightened coordinates stay the same."""
        if (x0, y0, zoom) == (0, 0, 1.0):
            return replace(self, shape=tuple(shape[:2]))
        cu, cv = self.ucentre
        return replace(self, cx=self.cx * zoom + x0, cy=self.cy * zoom + y0, cu=cu, cv=cv,
                       zoom=self.zoom * zoom, shape=tuple(shape[:2]))  # fmt: skip

    def in_working(self, y0: float, zoom: float, shape: tuple[int, ...], x0: float = 0.0) -> Frame:
        """Inverse of :meth:`to_mosaic`: this mosaic frame for the band's pixels."""
        cu, cv = self.ucentre
        return replace(self, cx=(self.cx - x0) / zoom, cy=(self.cy - y0) / zoom, cu=cu, cv=cv,
                       zoom=self.zoom / zoom, shape=tuple(shape[:2]))  # fmt: skip

    @property
    def sign(self) -> float:
        return -1.0 if self.flip else 1.0

    def to_source(self, u, v):
        """Source ``(x, y)`` of straightened ``(u, v)`` (arrays or floats)."""
        c, s = math.cos(self.phi), math.sin(self.phi)
        cu, cv = self.ucentre
        du = np.asarray(u, float) - cu
        dv = self.sign * (np.asarray(v, float) - cv)
        return self.cx + self.zoom * (c * du - s * dv), self.cy + self.zoom * (s * du + c * dv)

    def to_straight(self, x, y):
        """Straightened ``(u, v)`` of source ``(x, y)`` (arrays or floats)."""
        c, s = math.cos(self.phi), math.sin(self.phi)
        cu, cv = self.ucentre
        dx = (np.asarray(x, float) - self.cx) / self.zoom
        dy = (np.asarray(y, float) - self.cy) / self.zoom
        return cu + c * dx + s * dy, cv + self.sign * (-s * dx + c * dy)

    def collector_row(self, line: CollectorLine) -> float:
        """Row ``v`` of the collector edge in the straightened image (it is horizontal)."""
        return float(self.to_straight(line.x0, line.y0)[1])

    def valid_rows(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For straightened columns ``u``: the range ``[vmin, vmax]`` of valid rows."""
        u = np.asarray(u, float)
        h, w = self.shape
        c, s = math.cos(self.phi), math.sin(self.phi)
        cu, cv = self.ucentre
        z = self.zoom
        du = u - cu
        lo, hi = np.full(u.shape, -np.inf), np.full(u.shape, np.inf)
        # x = cx + z (c du - s dv) in [0, w-1];  y = cy + z (s du + c dv) in [0, h-1]
        for a0, k, top in ((self.cx + z * c * du, -z * s, w - 1.0),
                           (self.cy + z * s * du, z * c, h - 1.0)):  # fmt: skip
            if abs(k) < 1e-12:
                bad = (a0 < 0) | (a0 > top)
                lo[bad], hi[bad] = np.inf, -np.inf
                continue
            b1, b2 = (0 - a0) / k, (top - a0) / k
            lo, hi = np.maximum(lo, np.minimum(b1, b2)), np.minimum(hi, np.maximum(b1, b2))
        # dv = sign * (v - cv)
        v1, v2 = cv + self.sign * lo, cv + self.sign * hi
        return np.minimum(v1, v2), np.maximum(v1, v2)

    def _affine(self, v0: float, u0: float):
        """Matrix and offset mapping output ``(row, col)`` of a window at ``(v0, u0)`` to
        source ``(y, x)`` (scipy's ``affine_transform`` convention)."""
        c, s = math.cos(self.phi), math.sin(self.phi)
        cu, cv = self.ucentre
        z, g = self.zoom, self.sign
        m = z * np.array([[g * c, s], [-g * s, c]])
        base = np.array([self.cy, self.cx]) - m @ np.array([cv, cu])
        return m, base + m @ np.array([v0, u0])


def straighten(
    image: np.ndarray,
    frame: Frame | CollectorLine,
    *,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    order: int = 1,
    cval: float = 0.0,
    dtype=None,
) -> np.ndarray:
    """Resample ``image`` into the straightened frame (collector horizontal, coating above).

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
    frame : Frame or CollectorLine
        A line is turned into ``Frame.from_line(line, image.shape)``.
    rows, cols : (start, stop), optional
        Only this window of the straightened image (straightened pixels, stop exclusive);
        default the whole ``(H, W)``.
    order : int
        Spline order of the interpolation: 1 = bilinear (default), 0 = nearest (for label
        maps), 3 = cubic.
    cval : float
        Value of invalid pixels (source outside the image).
    dtype : dtype, optional
        Output dtype; default the input's (integers are rounded and clipped).

    Returns
    -------
    ndarray, shape (rows, cols) or (rows, cols, C)
    """
    if isinstance(frame, CollectorLine):
        frame = Frame.from_line(frame, image.shape)
    h, w = frame.shape
    r0, r1 = rows if rows is not None else (0, h)
    c0, c1 = cols if cols is not None else (0, w)
    m, off = frame._affine(r0, c0)
    out_dtype = np.dtype(dtype or image.dtype)
    work = np.float32 if order > 0 and np.issubdtype(out_dtype, np.integer) else out_dtype
    planes = [image] if image.ndim == 2 else [image[..., k] for k in range(image.shape[2])]
    res = []
    for p in planes:
        o = ndi.affine_transform(
            p,
            m,
            offset=off,
            output_shape=(r1 - r0, c1 - c0),
            order=order,
            mode="constant",
            cval=cval,
            output=work,
            prefilter=order > 1,
        )
        if np.issubdtype(out_dtype, np.integer) and o.dtype != out_dtype:
            info = np.iinfo(out_dtype)
            o = np.clip(np.rint(o), info.min, info.max).astype(out_dtype)
        res.append(o)
    return res[0] if image.ndim == 2 else np.stack(res, axis=-1)


def straighten_coarse(
    coarse: np.ndarray,
    frame: Frame,
    factor: int,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
) -> np.ndarray:
    """Straighten a ``factor`` x ``factor`` block-mean image of the source (bilinear).

    Straightened coarse pixel ``(i, j)`` stands for the full-resolution straightened point
    ``(u, v) = (j*factor + (factor-1)/2, i*factor + (factor-1)/2)``; ``rows``/``cols`` pick
    a window in coarse pixels (default the whole coarse image). Invalid pixels are NaN.
    """
    h, w = coarse.shape
    r0, r1 = rows if rows is not None else (0, h)
    c0, c1 = cols if cols is not None else (0, w)
    hf = (factor - 1) / 2.0
    m, off = frame._affine(r0 * factor + hf, c0 * factor + hf)
    off = (off - hf) / factor
    out = ndi.affine_transform(
        coarse.astype(np.float32, copy=False),
        m,
        offset=off,
        output_shape=(r1 - r0, c1 - c0),
        order=1,
        mode="constant",
        cval=np.nan,
        prefilter=False,
    )
    return out
