"""Reduced-resolution overviews of a mosaic, built within the memory budget.

The finest pyramid level that is small enough is read in strips and block-averaged, so a
single-level mosaic of any size needs only one strip plus the overview in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ratescope.core.io.mosaic import Mosaic

STRIP_BYTES = 64 * 1024**2
"""Bytes of level data read at once while building an overview."""


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Downsample by averaging ``factor`` x ``factor`` blocks, keeping the dtype (rounded).

    Rows and columns that do not fill a whole block are dropped.
    """
    if factor <= 1:
        return image
    height, width = image.shape[0] // factor, image.shape[1] // factor
    cropped = image[: height * factor, : width * factor]
    total = np.zeros((height, width, *image.shape[2:]), np.uint32)
    for dy in range(factor):  # strided adds: far faster than a reshaped mean
        for dx in range(factor):
            total += cropped[dy::factor, dx::factor]
    return ((total + factor * factor // 2) // (factor * factor)).astype(image.dtype)


def factor_for(height: int, width: int, *, max_side: int | None = None,
               max_pixels: int | None = None) -> int:  # fmt: skip
    """Smallest integer reduction that brings ``height`` x ``width`` within the limits."""
    factor = 1
    if max_side:
        factor = max(factor, math.ceil(max(height, width) / max_side))
    if max_pixels:
        factor = max(factor, math.ceil(math.sqrt(height * width / max_pixels)))
    return max(1, min(factor, height, width))


def build_overview(
    mosaic: Mosaic,
    *,
    max_side: int | None = None,
    max_pixels: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, float]:
    """An in-memory image of the whole mosaic within ``max_side`` / ``max_pixels``.

    The finest pyramid level that needs at most a 4x reduction is read (the coarsest
    level if none is that small), in strips, and block-averaged down; a level that can
    reduce itself (``level.overview(factor)``: CZI, through libCZI's zoom, which decodes
    each tile once instead of once per strip) is asked to.

    Parameters
    ----------
    progress : callable, optional
        Called with the fraction done after each strip; may raise to cancel.

    Returns
    -------
    image : ndarray
        (h, w) or (h, w, 3), the mosaic's dtype.
    scale : float
        Level-0 pixels per overview pixel.
    """
    scales = [mosaic.level_scale(i) for i in range(len(mosaic.levels))]

    def reduction(i: int) -> int:
        h, w = mosaic.levels[i].shape[:2]
        return factor_for(h, w, max_side=max_side, max_pixels=max_pixels)

    small = [i for i in range(len(scales)) if reduction(i) <= 4]
    source = min(small, key=scales.__getitem__) if small else int(np.argmax(scales))
    factor = reduction(source)
    height, width = mosaic.levels[source].shape[:2]
    level = mosaic.levels[source]
    if factor > 1 and hasattr(level, "overview"):  # the reader reduces it (CZI: libCZI zoom)
        image = level.overview(factor)
        if progress is not None:
            progress(1.0)
        return image, scales[source] * factor
    channels = 3 if mosaic.is_rgb else 1
    px_bytes = channels * mosaic.dtype.itemsize
    cols = min(width // factor * factor, max(factor, STRIP_BYTES // (factor * px_bytes)))
    cols = max(factor, cols // factor * factor)  # a chunk of whole blocks, one block tall
    rows = max(factor, (STRIP_BYTES // (cols * px_bytes)) // factor * factor)
    usable_h, usable_w = height // factor * factor, width // factor * factor
    out = np.empty((usable_h // factor, usable_w // factor, *mosaic.shape[2:]), mosaic.dtype)
    for y in range(0, usable_h, rows):
        y_end = min(usable_h, y + rows)
        for x in range(0, usable_w, cols):
            x_end = min(usable_w, x + cols)
            block = mosaic.read(y, y_end, x, x_end, level=source)
            out[y // factor : y_end // factor, x // factor : x_end // factor] = block_mean(
                block, factor
            )
        if progress is not None:
            progress(y_end / usable_h)
    return out, scales[source] * factor
