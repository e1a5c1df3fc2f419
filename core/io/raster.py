"""PNG and JPEG: single images with no pixel size (the caller's or the default is used).

Decoded with ``imagecodecs`` (already required for compressed TIFF tiles): it keeps
16-bit PNGs 16-bit, where Pillow reduces 16-bit colour to 8 bits. Opening reads the
header only; the decode is checked against the memory budget before it allocates.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.io.lazy import Deferred
from ratescope.core.io.limits import check_decode, check_dimensions
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.pixel_size import resolve_pixel_size

_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
"""PNG colour type -> channels decoded (gray, RGB, palette, gray + alpha, RGBA)."""


def png_header(data: bytes, path: Path) -> tuple[int, int, int, int]:
    """(height, width, channels decoded, bytes per sample) from a PNG's IHDR chunk."""
    if len(data) < 26 or data[12:16] != b"IHDR":
        raise RateScopeError("the PNG file is truncated or damaged (no image header)", path)
    width, height = struct.unpack(">II", data[16:24])
    depth, colour = data[24], data[25]
    if colour not in _PNG_CHANNELS:
        raise RateScopeError(f"the PNG file is damaged (unknown colour type {colour})", path)
    return height, width, _PNG_CHANNELS[colour], 2 if depth == 16 else 1


def jpeg_header(data: bytes, path: Path) -> tuple[int, int, int, int]:
    """(height, width, components, bytes per sample) from a JPEG's start-of-frame."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xFF, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS and i + 10 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return height, width, max(1, data[i + 9]), 1
        if marker == 0xDA:
            break
        i += 2 + length
    raise RateScopeError("the JPEG file is truncated or damaged (no image header)", path)


def read_png_jpeg(path: str | Path, fmt: str, pixel_size_um: float | None = None) -> Mosaic:
    """Open a PNG or JPEG (``fmt`` ``"PNG"``/``"JPEG"``) as a one-level :class:`Mosaic`.

    Only the header is read here; the pixels are decoded on first access, after the
    decoded size has been checked against the memory budget. Gray stays (H, W); colour
    becomes (H, W, 3) RGB (alpha dropped); 8 or 16 bit as stored.
    """
    path = Path(path)
    data = path.read_bytes()
    height, width, channels, itemsize = (png_header if fmt == "PNG" else jpeg_header)(data, path)
    check_dimensions(height, width, path)
    if fmt == "JPEG" and b"\xff\xd9" not in data[-1024:]:
        raise RateScopeError("the JPEG file is truncated (its end marker is missing)", path)
    shape = (height, width) if channels in (1, 2) else (height, width, 3)
    dtype = np.uint16 if itemsize == 2 else np.uint8

    def load() -> np.ndarray:
        check_decode(height, width, channels, itemsize, path)
        data = path.read_bytes()
        if fmt == "PNG":
            check_png_stream(data, path)
        image = _decode(data, fmt, path)
        if image.shape != shape or image.dtype != dtype:
            raise RateScopeError(
                f"the {fmt} file is damaged: it decodes to {image.shape} {image.dtype}, "
                f"its header says {shape} {np.dtype(dtype).name}",
                path,
            )
        return image

    value, source = resolve_pixel_size(None, pixel_size_um)
    return Mosaic(path, fmt, [Deferred(shape, dtype, load)], value, source, {"tiles": 1})


def check_png_stream(data: bytes, path: Path) -> None:
    """Refuse a truncated PNG or one with a CRC error before imagecodecs decodes it.

    imagecodecs (2026.3.6) leaks its whole output buffer each time it fails to decode a
    PNG (found by ``tests/test_fuzz_readers.py``: every damaged PNG opened left its decoded
    size allocated for good). Truncation and flipped bytes, the usual damage, fail here
    first: every chunk must lie within the file and match its CRC, up to IEND. A PNG whose
    chunks are intact but whose compressed data is not (a whole IDAT chunk missing or
    repeated) still reaches imagecodecs; checking that would mean inflating it twice.

    Raises
    ------
    RateScopeError
        A chunk runs past the end of the file, a CRC differs, or IEND is missing.
    """
    import zlib

    pos = 8
    while True:
        if pos + 12 > len(data):
            raise RateScopeError("the PNG file is truncated (it ends before its IEND chunk)", path)
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 8 + length
        name = kind.decode("latin-1")
        if end + 4 > len(data):
            raise RateScopeError(
                f"the PNG file is truncated (its {name!r} chunk runs past the end of the file)",
                path,
            )
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(memoryview(data)[pos + 4 : end]) != crc:
            raise RateScopeError(f"the PNG file is damaged (CRC error in its {name!r} chunk)", path)
        if kind == b"IEND":
            return
        pos = end + 4


def _decode(data: bytes, fmt: str, path: Path) -> np.ndarray:
    import imagecodecs

    try:
        image = imagecodecs.png_decode(data) if fmt == "PNG" else imagecodecs.jpeg8_decode(data)
    except Exception as e:
        raise RateScopeError(
            f"the {fmt} file is truncated or damaged and cannot be decoded ({e})", path
        ) from e
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (1, 2):
        image = image[..., 0]
    elif image.ndim == 3:
        image = image[..., :3]
    if image.dtype not in (np.uint8, np.uint16):
        raise RateScopeError(f"its pixels are {image.dtype}; only 8/16-bit are supported", path)
    return np.ascontiguousarray(image)
