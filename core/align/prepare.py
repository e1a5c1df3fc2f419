"""Image preparation shared by the alignment steps: gray conversion and block means.

:class:`GrayPyramid` gives the alignment what it needs of the gray image without a
full-size float copy: 2 x 2 and 4 x 4 block means summed in integers straight from the
(RGB) source, and bilinear gray samples at full resolution only where they are asked for.
"""

from __future__ import annotations

import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    """Gray float32 image scaled to [0, 1] by its dtype's range.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, 3) or (H, W, 4)
        uint8, uint16 or float (floats are taken as already in [0, 1]). Colour images are
        averaged over their first three channels with equal weights.

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    image = np.asarray(image)
    if image.ndim == 3:
        c = image[..., :3]
        gray = c[..., 0].astype(np.float32)
        gray += c[..., 1]
        gray += c[..., 2]
        gray *= 1.0 / 3.0
    elif image.ndim == 2:
        gray = image.astype(np.float32, copy=True)
    else:
        raise ValueError(f"expected a (H, W) or (H, W, 3) image, got shape {image.shape}")
    if np.issubdtype(image.dtype, np.integer):
        top = float(np.iinfo(image.dtype).max)
        if image.dtype == np.uint16:
            # 12- or 14-bit cameras store in 16-bit containers: scale by what is used.
            used = float(gray.max())
            top = float(2 ** int(np.ceil(np.log2(max(used, 255.0) + 1)))) - 1
        gray *= 1.0 / top
    return gray


def block_mean(gray: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor`` x ``factor`` blocks; ragged edges are dropped.

    Block ``(i, j)`` covers source pixels ``i*factor .. i*factor+factor-1``; its centre is
    at source coordinate ``i*factor + (factor-1)/2``.
    """
    if factor == 1:
        return gray
    h, w = (gray.shape[0] // factor) * factor, (gray.shape[1] // factor) * factor
    rows = gray[0:h:factor, :w].astype(np.float32, copy=True)
    for i in range(1, factor):
        rows += gray[i:h:factor, :w]
    out = rows.reshape(h // factor, w // factor, factor).sum(axis=2, dtype=np.float32)
    out *= 1.0 / (factor * factor)
    return out


def _integer_top(image: np.ndarray) -> float:
    """Full-scale value of an integer image (``to_gray``'s rule; 16-bit containers are
    scaled by the bits actually used)."""
    if image.dtype == np.uint16:
        used = float(image[..., :3].max()) if image.ndim == 3 else float(image.max())
        return float(2 ** int(np.ceil(np.log2(max(used, 255.0) + 1)))) - 1
    return float(np.iinfo(image.dtype).max)


def _sum2(a: np.ndarray, acc) -> np.ndarray:
    """Sum over 2 x 2 blocks (and over the last axis's first three channels when ``a``
    is 3-D) in the integer type ``acc``; ragged edges are dropped."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    r = a[0:h:2, :w].astype(acc)
    r += a[1:h:2, :w]
    if a.ndim == 2:
        return r[:, 0::2] + r[:, 1::2]
    c = a.shape[2]
    r = r.reshape(h // 2, w * c)
    step = 2 * c
    out = r[:, 0::step].copy()
    for k in range(1, step):
        if k % c < 3:
            out += r[:, k::step]
    return out


class GrayPyramid:
    """Gray levels of a mosaic in [0, 1] (channel mean, scaled by the dtype's range, as
    :func:`to_gray`) at half and quarter resolution, plus full-resolution samples.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        uint8/uint16 (summed in integers, no float copy of the full image) or float
        (taken as already in [0, 1]).

    Attributes
    ----------
    half, quarter : ndarray, float32
        ``block_mean(to_gray(image), 2)`` and ``block_mean(to_gray(image), 4)``.
    shape : tuple of int
        ``(H, W)`` of the source.
    """

    def __init__(self, image: np.ndarray):
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(f"expected a (H, W) or (H, W, 3) image, got shape {image.shape}")
        self.shape = (int(image.shape[0]), int(image.shape[1]))
        if not np.issubdtype(image.dtype, np.integer):
            self._gray = to_gray(image)
            self._image, self._scale = None, 1.0
            self.half = block_mean(self._gray, 2)
            self.quarter = block_mean(self.half, 2)
            return
        self._gray, self._image = None, image
        nch = min(image.shape[2], 3) if image.ndim == 3 else 1
        self._nch = nch
        self._scale = 1.0 / (_integer_top(image) * nch)
        acc = np.uint16 if image.itemsize == 1 else np.uint32
        s2 = _sum2(image, acc)
        self.half = s2.astype(np.float32)
        self.half *= np.float32(self._scale / 4.0)
        s4 = _sum2(s2, np.uint32 if acc is np.uint16 and nch * 16 * 255 > 65535 else acc)
        self.quarter = s4.astype(np.float32)
        self.quarter *= np.float32(self._scale / 16.0)

    def sample(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Full-resolution gray at rows ``ys`` (float, linear interpolation, clamped to the
        image) and integer columns ``xs`` (same shape), float32."""
        h = self.shape[0]
        y = np.clip(np.asarray(ys, np.float32), 0, h - 1)
        y0 = np.minimum(y.astype(np.intp), h - 2)
        f = y - y0
        xs = np.asarray(xs, np.intp)
        src = self._gray if self._gray is not None else self._image
        a = src[y0, xs].astype(np.float32)
        b = src[y0 + 1, xs].astype(np.float32)
        if a.ndim > f.ndim:
            a = a[..., :3].sum(axis=-1)
            b = b[..., :3].sum(axis=-1)
        out = a + f * (b - a)
        out *= np.float32(self._scale)
        return out
