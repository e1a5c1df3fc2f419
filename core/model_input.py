"""The model's input convention: every mosaic becomes 8-bit RGB before alignment.

The embedded models were trained on tiles cut from images converted by
:func:`to_model_image`, so prediction converts the same way:

- RGB stays RGB; a gray image is replicated to three identical channels;
- uint8 is kept; uint16 is scaled by the largest value its bit depth can hold, the bit
  depth being read off the data (a 12-bit camera's 0-4095 in a 16-bit file is scaled by
  4095, not 65535), never below 8 bits;
- floats are taken as already in [0, 1].

:func:`core.models.ratecnn.tiles_to_tensor` then divides by 255. No torch here.
"""

from __future__ import annotations

import numpy as np

from ratescope.core.errors import RateScopeError

CHUNK_VALUES = 8_000_000
"""Values converted at once from 16 bit (a float32 working copy of 32 MB)."""


def significant_bits(image: np.ndarray) -> int:
    """Bits the data of an integer image uses (8 at least), from its largest value."""
    top = int(np.max(image)) if image.size else 0
    return max(8, int(top).bit_length())


def to_model_image(image: np.ndarray) -> np.ndarray:
    """Convert a mosaic to the models' input convention: (H, W, 3) uint8 RGB.

    Parameters
    ----------
    image : ndarray
        (H, W) gray or (H, W, 3) RGB (a 4th alpha channel is dropped); uint8, uint16 or
        float in [0, 1].

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)

    Raises
    ------
    RateScopeError
        For shapes or dtypes that are not a micrograph.
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise RateScopeError(f"expected a gray or RGB image, got an array of shape {a.shape}")
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == np.uint16:
        scale = np.float32(255.0 / (2 ** significant_bits(a) - 1))
        out = np.empty(a.shape, np.uint8)
        rows = max(1, CHUNK_VALUES // max(1, a[0].size))
        for y in range(0, a.shape[0], rows):  # in row chunks: no float copy of the whole
            chunk = a[y : y + rows].astype(np.float32)
            chunk *= scale
            out[y : y + rows] = np.clip(np.rint(chunk), 0, 255)
    elif np.issubdtype(a.dtype, np.floating):
        out = np.clip(np.rint(np.nan_to_num(a.astype(np.float32)) * 255.0), 0, 255)
        out = out.astype(np.uint8)
    else:
        raise RateScopeError(f"unsupported pixel type {a.dtype} (expected uint8, uint16, float)")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out)


def prepare_tiles(tiles: np.ndarray) -> np.ndarray:
    """Tiles (N, H, W[, 3]) of any supported dtype -> (N, H, W, 3) uint8 RGB.

    The stack is converted as one image (:func:`to_model_image`), so 16-bit tiles share
    one scale.
    """
    a = np.asarray(tiles)
    if a.ndim == 2:
        a = a[None]
    if a.ndim not in (3, 4):
        raise RateScopeError(f"expected tiles (N, H, W[, 3]), got an array of shape {a.shape}")
    if len(a) == 0:
        raise RateScopeError("no tiles to predict (all were rejected?)")
    n, h = a.shape[0], a.shape[1]
    flat = a.reshape(n * h, *a.shape[2:])
    return to_model_image(flat).reshape(n, h, a.shape[2], 3)
