"""Mini-volumes ("windows") of ``l`` slices x 224 x 224 voxels, as in the paper.

Two layouts:

* **Sliding windows** (training, the paper's data sets): starts ``0, s, 2s, ...`` along z
  while a whole window fits (stride ``s`` = 1 or ``s = l``); in-plane, the plane is tiled
  by :func:`cover_starts`.
* **Covering windows** (reconstruction of a whole volume): windows of ``l`` slices at
  ``0, l, 2l, ...`` with the last one moved back to end at the last slice (it overlaps its
  neighbour); the plane is tiled the same way with 224 x 224 tiles, the last row/column
  moved back to the edge. Overlapping voxels are averaged when stitching.

Volumes smaller than a window (fewer than ``l`` slices, or a plane under 224) are padded
by mirror reflection (``numpy.pad(mode="symmetric")``, repeated if needed) and the padding
is cropped off after reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """One mini-volume: corner ``(z0, y0, x0)`` in voxels of the source volume."""

    z0: int
    y0: int
    x0: int


def sliding_starts(n: int, length: int, stride: int = 1) -> list[int]:
    """Starts of the paper's sliding windows along one axis (only whole windows).

    Examples
    --------
    >>> sliding_starts(30, 24, 1)[-1], len(sliding_starts(30, 24, 1)), sliding_starts(50, 24, 24)
    (6, 7, [0, 24])
    """
    if length < 1 or stride < 1:
        raise ValueError("window length and stride must be >= 1")
    return list(range(0, n - length + 1, stride)) if n >= length else []


def cover_starts(n: int, size: int) -> list[int]:
    """Starts of tiles of ``size`` covering ``0..n``; the last tile is moved back to end at n.

    Examples
    --------
    >>> cover_starts(301, 224), cover_starts(224, 224), cover_starts(100, 224), cover_starts(48, 24)
    ([0, 77], [0], [0], [0, 24])
    """
    if n <= size:
        return [0]
    starts = list(range(0, n - size + 1, size))
    if starts[-1] + size < n:
        starts.append(n - size)
    return starts


def sliding_windows(
    shape: tuple[int, int, int], length: int = 24, stride: int = 1, plane: int = 224
) -> list[Window]:
    """The paper's mini-volumes of a volume of ``shape`` (z stride ``stride``, plane tiled)."""
    ys, xs = cover_starts(shape[1], plane), cover_starts(shape[2], plane)
    return [
        Window(z, y, x) for z in sliding_starts(shape[0], length, stride) for y in ys for x in xs
    ]


def covering_windows(
    shape: tuple[int, int, int], length: int = 24, plane: int = 224
) -> list[Window]:
    """Windows that cover every voxel of a volume of ``shape`` at least once."""
    ys, xs = cover_starts(shape[1], plane), cover_starts(shape[2], plane)
    return [Window(z, y, x) for z in cover_starts(shape[0], length) for y in ys for x in xs]


def pad_to(block: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Mirror-pad ``block`` at the high end of each axis up to ``size`` (no-op if big enough)."""
    while any(s < t for s, t in zip(block.shape, size, strict=True)):
        pad = [(0, min(t - s, s) if s < t else 0) for s, t in zip(block.shape, size, strict=True)]
        block = np.pad(block, pad, mode="symmetric")
    return block


def read_window(source, w: Window, length: int = 24, plane: int = 224) -> np.ndarray:
    """Raw voxels of window ``w`` ``[length, plane, plane]``, mirror-padded where the volume ends.

    ``source`` is a :class:`core.volume.io.VolumeSource` (``read_box``) or an array.
    """
    z1 = w.z0 + length
    y1, x1 = w.y0 + plane, w.x0 + plane
    if hasattr(source, "read_box"):
        block = source.read_box(w.z0, z1, w.y0, y1, w.x0, x1)
    else:
        block = np.asarray(source[w.z0 : z1, w.y0 : y1, w.x0 : x1])
    return pad_to(block, (length, plane, plane))
