"""Bad inputs raise RateScopeError naming the file, quickly and without big allocations.

Opening reads headers only; the damage of a file whose header is intact shows on the
first pixel read, so each case opens the file and reads its first 64 x 64 pixels.
"""

import os
import struct
import time
import tracemalloc
import zlib

import imagecodecs  # noqa: F401  (imported here so the 1 s bound times reading, not imports)
import numpy as np
import olefile  # noqa: F401
import pylibCZIrw.czi  # noqa: F401
import pytest
import tifffile
from _io_helpers import write_zvi
from PIL import Image

from ratescope.core.errors import RateScopeError
from ratescope.core.io import list_scenes, load_mosaic
from ratescope.core.io.czi import write_czi_mosaic

RNG = np.random.default_rng(10)


def _random(n: int) -> bytes:
    return RNG.integers(0, 256, n, dtype=np.uint8).tobytes()


def _put(path, data: bytes):
    path.write_bytes(data)
    return path


def _truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _huge_tiff(path):
    """A classic TIFF whose header claims 200 000 x 200 000 gray pixels in one strip."""
    entries = [(256, 4, 200_000), (257, 4, 200_000), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
    entries += [(273, 4, 512), (277, 3, 1), (278, 4, 200_000), (279, 4, 1000)]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, value in entries:
        fmt = "<HHIHH" if typ == 3 else "<HHII"
        ifd += (
            struct.pack(fmt, tag, typ, 1, value, 0)
            if typ == 3
            else struct.pack(fmt, tag, typ, 1, value)
        )
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0" * (1600 - 8 - len(ifd)))
    return path


def _huge_png(path):
    ihdr = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + b"\0" * 64)
    return path


def _czi(path):
    write_czi_mosaic(path, RNG.integers(0, 255, (300, 500), dtype=np.uint8), tile_shape=(128, 128))
    return path


def _tiled_tiff(path):
    tifffile.imwrite(path, RNG.integers(0, 255, (600, 600), dtype=np.uint8), tile=(128, 128))
    return path


def _png(path):
    Image.fromarray(RNG.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(path)
    return path


def _jpeg(path):
    Image.fromarray(RNG.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(path)
    return path


def _zvi(path):
    write_zvi(path, RNG.integers(0, 255, (300, 400), dtype=np.uint8), tile_shape=(150, 200))
    return path


CASES = {
    "zero-byte": (lambda d: _put(d / "empty.czi", b""), "empty"),
    "random-czi": (
        lambda d: _put(d / "noise.czi", _random(5000)),
        "format",
    ),
    "random-tif": (
        lambda d: _put(d / "noise.tif", _random(5000)),
        "format",
    ),
    "czi-magic-then-noise": (
        lambda d: _put(d / "bad.czi", b"ZISRAWFILE" + _random(4000)),
        "damaged",
    ),
    "tiff-magic-then-noise": (
        lambda d: _put(d / "bad.tif", b"II*\x00" + _random(4000)),
        "damaged|no image data",
    ),
    "ole-magic-then-noise": (
        lambda d: _put(d / "bad.zvi", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + _random(4000)),
        "damaged",
    ),
    "png-magic-then-noise": (
        lambda d: _put(d / "bad.png", b"\x89PNG\r\n\x1a\n" + _random(4000)),
        "damaged",
    ),
    "truncated-czi": (lambda d: _truncate(_czi(d / "cut.czi")), "truncated"),
    "truncated-tiff": (lambda d: _truncate(_tiled_tiff(d / "cut.tif")), "truncated"),
    "truncated-png": (lambda d: _truncate(_png(d / "cut.png")), "truncated"),
    "truncated-jpeg": (lambda d: _truncate(_jpeg(d / "cut.jpg")), "truncated"),
    "truncated-zvi": (lambda d: _truncate(_zvi(d / "cut.zvi"), 0.7), "damaged|truncated"),
    "huge-tiff-header": (lambda d: _huge_tiff(d / "huge.tif"), "200000 x 200000"),
    "huge-png-header": (lambda d: _huge_png(d / "huge.png"), "200000 x 200000"),
    "directory-with-suffix": (lambda d: (d / "folder.czi").mkdir() or d / "folder.czi", "folder"),
    "gif": (
        lambda d: _put(d / "anim.gif", b"GIF89a" + _random(100)),
        "format",
    ),
    "missing": (lambda d: d / "nowhere.czi", "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_clear_error_fast_and_small(tmp_path, case):
    make, expected = CASES[case]
    path = make(tmp_path)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(RateScopeError) as err:
            load_mosaic(path).read(0, 64, 0, 64)
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert path.name in message
    assert any(word in message for word in expected.split("|")), message
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert peak < 64 * 1024**2, f"{peak / 1e6:.0f} MB"


def test_unreadable_file(tmp_path, monkeypatch):
    path = _png(tmp_path / "secret.png")
    path.chmod(0)
    if os.name != "posix" or os.geteuid() == 0:  # root reads anything: simulate the refusal
        monkeypatch.setattr("ratescope.core.io.detect.os.access", lambda *_a, **_k: False)
    try:
        with pytest.raises(RateScopeError, match="secret.png: .*permission"):
            load_mosaic(path)
    finally:
        path.chmod(0o644)


def test_list_scenes_of_bad_file_raises_the_same_error(tmp_path):
    path = tmp_path / "empty.zvi"
    path.write_bytes(b"")
    with pytest.raises(RateScopeError, match="empty.zvi: the file is empty"):
        list_scenes(path)
