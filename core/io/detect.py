"""Which reader a file needs, decided from its first bytes (not only its suffix)."""

from __future__ import annotations

import os
from pathlib import Path

from ratescope.core.errors import RateScopeError

MAGIC = (
    (b"ZISRAWFILE", "CZI"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ZVI"),  # OLE2 compound file
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
)
"""Leading bytes of each supported container, in the order they are tried."""

SUPPORTED = "CZI, ZVI, TIFF/BigTIFF/OME-TIFF, PNG and JPEG"


def check_readable_file(path: str | Path) -> Path:
    """Return ``path`` as a Path if it names a non-empty regular file we may read.

    Raises
    ------
    RateScopeError
        If it does not exist, is a folder, is empty or may not be read.
    """
    path = Path(path)
    if not path.exists():
        raise RateScopeError("the file does not exist", path)
    if path.is_dir():
        raise RateScopeError("this is a folder, not an image file", path)
    if not path.is_file():
        raise RateScopeError("this is not a regular file", path)
    if path.stat().st_size == 0:
        raise RateScopeError("the file is empty (0 bytes)", path)
    if not os.access(path, os.R_OK):
        raise RateScopeError("you do not have permission to read this file", path)
    return path


def detect_format(path: str | Path) -> str:
    """Return ``"CZI"``, ``"ZVI"``, ``"TIFF"``, ``"PNG"`` or ``"JPEG"`` from the file's bytes.

    Raises
    ------
    RateScopeError
        If the file cannot be read or is none of the supported formats.
    """
    path = check_readable_file(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise RateScopeError(f"the file cannot be read ({e.strerror or e})", path) from e
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    suffix = path.suffix.lower()
    claimed = f"named '{suffix}' but its contents are not" if suffix else "not"
    raise RateScopeError(
        f"the file is {claimed} a supported image format ({SUPPORTED}); "
        "it may be damaged or of another kind",
        path,
    )
