"""Sanity limits checked before any pixel memory is allocated."""

from __future__ import annotations

from pathlib import Path

from ratescope.core.errors import RateScopeError

MAX_PIXELS_IN_MEMORY = 2**31
"""A mosaic read whole may have at most this many pixels (per channel)."""

MAX_SIDE = 2**20
"""No side of any image may exceed this (a header claiming more is corrupt)."""


def check_dimensions(height: int, width: int, path: str | Path, *, lazy: bool = False) -> None:
    """Raise :class:`RateScopeError` if ``height`` x ``width`` is absurd.

    Parameters
    ----------
    height, width : int
        Image size in pixels, as the file header claims it.
    path : str or Path
        The file, named in the message.
    lazy : bool
        True when the image is read region by region (tiled pyramids): only the side
        limit applies then; otherwise the whole image must also fit
        :data:`MAX_PIXELS_IN_MEMORY`.
    """
    if height <= 0 or width <= 0:
        raise RateScopeError(f"the file holds no image data (size {width} x {height} px)", path)
    if height > MAX_SIDE or width > MAX_SIDE:
        raise RateScopeError(
            f"the file claims an absurd image size of {width} x {height} px; "
            "it is probably damaged",
            path,
        )
    if not lazy and height * width > MAX_PIXELS_IN_MEMORY:
        raise RateScopeError(
            f"the image is {width} x {height} px, too large to load into memory; "
            "save it as a tiled (pyramidal) TIFF so it can be read piece by piece",
            path,
        )
