"""Image preparation shared by the alignment steps: gray conversion and block means."""

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
