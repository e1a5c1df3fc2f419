"""A range of slices of a volume, still read lazily (e.g. to reconstruct part of a scan)."""

from __future__ import annotations

from dataclasses import replace

from ratescope.core.errors import RateScopeError
from ratescope.core.volume.io import VolumeSource


class _ZRange:
    """``array[z0:z1]`` without reading it: slicing is forwarded with the z offset."""

    def __init__(self, array, z0: int, z1: int):
        self.array, self.z0, self.z1 = array, z0, z1
        self.shape = (z1 - z0, *array.shape[1:])

    def __getitem__(self, key):
        zs, *rest = key if isinstance(key, tuple) else (key,)
        start, stop, _ = zs.indices(self.shape[0])
        return self.array[(slice(self.z0 + start, self.z0 + max(stop, start)), *rest)]


def parse_slices(text: str, n: int) -> tuple[int, int]:
    """``"A:B"`` (Python slice bounds; either may be empty or negative) -> ``(z0, z1)``.

    Raises ValueError for text that is not ``A:B`` or an empty range.
    """
    a, sep, b = text.partition(":")
    if not sep:
        raise ValueError(f"expected Z0:Z1, got '{text}'")
    z0, z1, _ = slice(int(a) if a.strip() else None, int(b) if b.strip() else None).indices(n)
    if z1 <= z0:
        raise ValueError(f"slices {text} select nothing of {n}")
    return z0, z1


def sub_volume(source: VolumeSource, z0: int, z1: int) -> VolumeSource:
    """Slices ``z0:z1`` of ``source`` as a :class:`VolumeSource` sharing its file handle.

    Closing the sub-volume does not close ``source``.
    """
    if not 0 <= z0 < z1 <= source.shape[0]:
        raise RateScopeError(f"slices {z0}:{z1} outside 0:{source.shape[0]}", source.path)
    shape = (z1 - z0, *source.shape[1:])
    if source._array is not None:
        return replace(source, shape=shape, _array=_ZRange(source._array, z0, z1), _handle=None)
    return replace(source, shape=shape, _pages=source._pages[z0:z1], _handle=None)
