"""The memory budget: sanity and size limits checked before any pixel memory is allocated.

RateScope works on mosaics of any size within :data:`MEMORY_BUDGET_BYTES` for one decode:
large images are read region by region (tiled TIFF, CZI) or as a reduced overview plus
full-resolution bands; a file that can only be decoded whole and would need more is
refused before anything is allocated, with a message that says what to do.
"""

from __future__ import annotations

from pathlib import Path

from ratescope.core.errors import RateScopeError

MEMORY_BUDGET_BYTES = 1024**3
"""Most bytes one decoded array may take (after conversion: channels x item size)."""

MAX_SIDE = 2**20
"""No side of any image may exceed this (a header claiming more is corrupt)."""

MAX_PIXELS = 2**34
"""No image may declare more pixels (17 Gpx: eight times a 20 000 x 100 000 mosaic)."""

_WHAT_TO_DO = "save it as a tiled (pyramidal) TIFF or a CZI, which RateScope reads piece by piece"


def gigabytes(nbytes: float) -> str:
    """``nbytes`` for a message: ``"2.1 GB"``."""
    return f"{nbytes / 1024**3:.1f} GB"


def check_dimensions(height: int, width: int, path: str | Path) -> None:
    """Raise :class:`RateScopeError` if a header's ``height`` x ``width`` is absurd.

    Parameters
    ----------
    height, width : int
        Image size in pixels, as the file header claims it.
    path : str or Path
        The file, named in the message.
    """
    if height <= 0 or width <= 0:
        raise RateScopeError(f"the file holds no image data (size {width} x {height} px)", path)
    if height > MAX_SIDE or width > MAX_SIDE or height * width > MAX_PIXELS:
        raise RateScopeError(
            f"the file claims an absurd image size of {width} x {height} px; "
            "it is probably damaged",
            path,
        )


def check_decode(
    height: int, width: int, channels: int, itemsize: int, path: str | Path, what: str = "it"
) -> None:
    """Raise :class:`RateScopeError` before decoding ``height`` x ``width`` x ``channels``
    values of ``itemsize`` bytes at once if that exceeds :data:`MEMORY_BUDGET_BYTES`.

    Parameters
    ----------
    what : str
        What is decoded, for the message (``"it"``, ``"one stored tile"``).
    """
    check_dimensions(height, width, path)
    nbytes = int(height) * int(width) * int(channels) * int(itemsize)
    if nbytes > MEMORY_BUDGET_BYTES:
        raise RateScopeError(
            f"the image is {width} x {height} px and decoding {what} at once needs "
            f"{gigabytes(nbytes)}, more than RateScope's memory budget of "
            f"{gigabytes(MEMORY_BUDGET_BYTES)}; {_WHAT_TO_DO}",
            path,
        )
