"""The memory budget: headers only at open, every decode checked before it allocates.

Files are tiny on disk but declare huge images: a sparse CZI written by pylibCZIrw with
two tiles 46 000 px apart, a PNG header claiming 46 000 x 46 000 px, a TIFF of one
60 000 x 60 000 px strip. ``info`` must describe them from their headers; reading pixels
must be refused with a message naming the file, the size and what to do.
"""

import json
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest

from ratescope.cli import main
from ratescope.core.errors import RateScopeError
from ratescope.core.io import load_mosaic


def _sparse_czi(path):
    from pylibCZIrw import czi as pyczi

    tile = np.full((300, 300, 1), 120, np.uint8)
    with pyczi.create_czi(str(path)) as w:
        for x, y in ((0, 0), (46_000, 46_000)):
            w.write(tile, location=(x, y), plane={"C": 0, "Z": 0, "T": 0})
        w.write_metadata(scale_x=0.123e-6, scale_y=0.123e-6)
    return path


def _png_header(path, side=46_000):
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit gray
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 1000)
    body = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(idat))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + body)
    return path


def _one_strip_tiff(path, side=60_000):
    """A deflate TIFF whose single strip holds 60 000 x 60 000 gray pixels."""
    data = zlib.compress(b"\0" * 100_000)
    start = 8 + 2 + 11 * 12 + 4  # the strip follows the IFD
    entries = [(256, 4, side), (257, 4, side), (258, 3, 8), (259, 3, 8), (262, 3, 1),
               (273, 4, start), (277, 3, 1), (278, 4, side), (279, 4, len(data))]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, typ, value in entries:
        if typ == 3:
            ifd += struct.pack("<HHIHH", tag, typ, 1, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, typ, 1, value)
    ifd += struct.pack("<I", 0) + b"\0" * (11 * 12 - 9 * 12)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + data)
    return path


CASES = {
    "sparse.czi": (_sparse_czi, 46_300),
    "huge.png": (_png_header, 46_000),
    "strip.tif": (_one_strip_tiff, 60_000),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_info_reads_headers_only(tmp_path, capsys, name):
    make, side = CASES[name]
    path = make(tmp_path / name)
    main(["info", str(path), "--json"])  # imports done before measuring
    capsys.readouterr()
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        code = main(["info", str(path), "--json"])
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0
    info = json.loads(capsys.readouterr().out)
    assert info["height_px"] >= side - 1 and info["width_px"] >= side - 1
    assert elapsed < 2.0 and peak < 32 * 1024**2, (elapsed, peak)


@pytest.mark.parametrize("name", sorted(CASES))
def test_whole_decode_over_the_budget_is_refused_before_allocating(tmp_path, name):
    make, _ = CASES[name]
    path = make(tmp_path / name)
    mosaic = load_mosaic(path)
    tracemalloc.start()
    try:
        with pytest.raises(RateScopeError) as err:
            _ = mosaic.image
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert name in message and "memory budget" in message and "GB" in message, message
    assert peak < 32 * 1024**2


def test_one_strip_over_the_budget_is_refused_even_for_a_small_region(tmp_path):
    path = _one_strip_tiff(tmp_path / "strip.tif")
    with pytest.raises(RateScopeError, match=r"strip\.tif: .*one stored strip.*tiled"):
        load_mosaic(path).read(0, 10, 0, 10)


def test_predict_on_a_declared_huge_png_names_the_file_and_exits_1(tmp_path, capsys):
    path = _png_header(tmp_path / "huge.png")
    assert main(["predict", str(path), "--json", str(tmp_path / "out.json")]) == 1
    err = capsys.readouterr().err
    assert "huge.png" in err and "memory budget" in err and "46000 x 46000" in err


def test_sparse_czi_regions_read_without_the_whole(tmp_path):
    mosaic = load_mosaic(_sparse_czi(tmp_path / "sparse.czi"))
    tracemalloc.start()
    try:
        corner = mosaic.read(46_000 - 10, 46_000 + 10, 46_000 - 10, 46_000 + 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert corner.shape == (20, 20) and corner[15, 15] == 120 and corner[0, 0] == 0
    assert peak < 1024**2


def test_a_header_claiming_a_terapixel_is_refused_at_open(tmp_path):
    """10^6 x 10^6 px: no microscope mosaic; opening it once left the GUI never ready."""
    path = _one_strip_tiff(tmp_path / "tera.tif", side=1_000_000)
    with pytest.raises(RateScopeError, match=r"tera\.tif: .*absurd image size of 1000000 x"):
        load_mosaic(path)
