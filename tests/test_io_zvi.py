"""AxioVision ZVI mosaics (OLE2, one stream per tile) placed from stage or grid positions."""

import math
import struct
import tracemalloc

import numpy as np
import olefile
import pytest
from _io_helpers import VT_I4, VT_R8, item_contents, tags_stream, write_compound_file, write_zvi

from ratescope.core.errors import RateScopeError
from ratescope.core.io import load_mosaic


def test_rgb_tiles_placed_from_stage_positions_with_overlap(tmp_path):
    img = np.random.default_rng(4).integers(0, 255, (500, 800, 3), dtype=np.uint8)
    img[..., 2] = 7  # distinct blue: a B/R swap would show
    path = tmp_path / "mosaix.zvi"
    write_zvi(path, img, tile_shape=(200, 300), overlap=40, pixel_size_um=0.5)
    with olefile.OleFileIO(str(path)) as ole:  # a real compound file olefile understands
        assert ole.exists("Image/Item(0)/Contents") and ole.exists("Image/Item(0)/Tags/Contents")

    m = load_mosaic(path)
    assert m.format == "ZVI" and m.metadata["tiles_placed_by"] == "stage"
    assert m.metadata["tiles"] == 9
    np.testing.assert_array_equal(m.image, img)
    assert (m.pixel_size_um, m.pixel_size_source) == (0.5, "metadata")


def test_gray16_without_stage_positions_falls_back_to_grid(tmp_path):
    img = np.random.default_rng(5).integers(0, 65535, (450, 700), dtype=np.uint16)
    path = tmp_path / "grid.zvi"
    write_zvi(path, img, tile_shape=(200, 300), stage_origin_um=None, pixel_size_um=None)
    m = load_mosaic(path)
    assert m.metadata["tiles_placed_by"] == "grid" and m.dtype == np.uint16
    np.testing.assert_array_equal(m.image, img)
    assert (m.pixel_size_um, m.pixel_size_source) == (pytest.approx(0.123), "default")


# ----------------------------------------------------------------------------- damaged files
# Each damaged file raises RateScopeError naming it, before any large allocation.

RNG = np.random.default_rng(20)


def _zvi_of_tiles(path, tiles, tags, pixel_size_um=0.5):
    """A ZVI of the given tiles, tile ``i`` with tags ``tags[i]`` ({id: (type, value)})."""
    streams = {"Image/Tags/Contents": tags_stream({769: (VT_R8, pixel_size_um), 770: (VT_I4, 76)})}
    for i, (tile, tile_tags) in enumerate(zip(tiles, tags, strict=True)):
        streams[f"Image/Item({i})/Contents"] = item_contents(tile, i)
        streams[f"Image/Item({i})/Tags/Contents"] = tags_stream(tile_tags)
    write_compound_file(path, streams)
    return path


def _stage(x_um, y_um):
    return {2073: (VT_R8, x_um), 2074: (VT_R8, y_um)}


def _gray(h=20, w=30, dtype=np.uint8):
    return RNG.integers(0, 255, (h, w), dtype=dtype)


def _rgb(h=20, w=30):
    return RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _refused(path, *words):
    tracemalloc.start()
    try:
        with pytest.raises(RateScopeError) as err:
            load_mosaic(path).read(0, 64, 0, 64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert message.startswith(f"{path.name}: "), message
    assert all(w in message for w in words), message
    assert peak < 32 * 1024**2, f"{peak / 1e6:.0f} MB"
    return message


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_stage_position_is_refused(tmp_path, bad):
    path = _zvi_of_tiles(tmp_path / "stage.zvi", [_gray(), _gray()], [_stage(0, 0), _stage(bad, 0)])
    _refused(path, "tile 1 has no valid stage position", "damaged")


@pytest.mark.parametrize("far_um", [1e300, 5e5])
def test_absurd_stage_positions_are_refused_before_allocating(tmp_path, far_um):
    """1e300 µm is beyond any canvas; 5e5 µm (1e6 px) would be a 1e6 x 1e6 canvas of zeros
    around two 20 x 30 px tiles: refused by its size or by how little the tiles cover."""
    tags = [_stage(0, 0), _stage(far_um, far_um)]
    path = _zvi_of_tiles(tmp_path / "far.zvi", [_gray(), _gray()], tags)
    _refused(path, "damaged")


def test_sparse_stage_positions_are_refused(tmp_path):
    """Within every size limit (2000 x 2000 px) but 99.9 % empty: a damaged position."""
    tags = [_stage(0, 0), _stage(1000, 1000)]
    path = _zvi_of_tiles(tmp_path / "sparse.zvi", [_gray(), _gray()], tags)
    _refused(path, "cover", "damaged")


@pytest.mark.parametrize(
    "tiles, words",
    [
        ([_rgb(), _gray()], ["tile 0 is 8-bit RGB", "tile 1 8-bit gray"]),
        ([_gray(), _rgb()], ["tile 0 is 8-bit gray", "tile 1 8-bit RGB"]),
        ([_gray(), _gray(dtype=np.uint16)], ["8-bit gray", "16-bit gray"]),
    ],
    ids=["gray-among-rgb", "rgb-among-gray", "16-among-8-bit"],
)
def test_mixed_pixel_formats_are_refused(tmp_path, tiles, words):
    path = _zvi_of_tiles(tmp_path / "mixed.zvi", tiles, [_stage(0, 0), _stage(15, 0)])
    _refused(path, "mix pixel formats", *words)


def test_mixed_tile_sizes_are_placed_from_the_stage_or_refused_on_a_grid(tmp_path):
    small, big = _gray(20, 30), _gray(40, 60)
    path = _zvi_of_tiles(tmp_path / "stage.zvi", [small, big], [_stage(0, 0), _stage(15, 0)])
    m = load_mosaic(path)  # placed by stage: any sizes fit
    assert m.shape == (40, 90) and m.metadata["tiles_placed_by"] == "stage"
    np.testing.assert_array_equal(m.image[:, 30:], big)
    grid = [{2817: (VT_I4, 0)}, {2817: (VT_I4, 1)}]
    path = _zvi_of_tiles(tmp_path / "grid.zvi", [small, big], grid)
    _refused(path, "tile 1 (60 x 40 px) is larger than the first tile")


@pytest.mark.parametrize("column", [(VT_R8, math.inf), (VT_I4, -3), (VT_I4, 2**31 - 1)])
def test_invalid_grid_index_is_refused(tmp_path, column):
    tags = [{2817: (VT_I4, 0)}, {2817: column}]
    path = _zvi_of_tiles(tmp_path / "grid.zvi", [_gray(), _gray()], tags)
    _refused(path, "tile 1 has an invalid grid column")


def _patch(path, offset, fmt, *values):
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, *values)
    path.write_bytes(bytes(data))


def _stream_start(path, name):
    with olefile.OleFileIO(str(path)) as ole:
        entry = ole.direntries[ole._find(name)]
        return entry.isectStart, entry.size, ole.fat[entry.isectStart]


def _fat_entry_offset(path, sector):
    """Byte offset of ``sector``'s entry in the FAT (first FAT sector, 512-byte sectors)."""
    (first_fat,) = struct.unpack_from("<I", path.read_bytes(), 76)
    assert sector < 128
    return 512 * (first_fat + 1) + 4 * sector


def test_tile_header_claiming_more_pixels_than_its_stream_is_refused(tmp_path):
    img = _gray(200, 300)
    path = tmp_path / "claims.zvi"
    write_zvi(path, img, tile_shape=(200, 300))
    raw = path.read_bytes()
    head = struct.pack("<7i", 0x10002000, 300, 200, 1, 1, 3, 8)  # the raw header of Item(0)
    _patch(path, raw.index(head) + 4, "<ii", 30000, 20000)  # width, height
    _refused(path, "tile 0 is truncated or damaged", "30000 x 20000 px")


def test_fat_loop_is_refused_where_olefile_returns_wrong_pixels(tmp_path):
    img = _gray(200, 300)  # 60 kB: one stream of 118 sectors in the FAT
    path = tmp_path / "loop.zvi"
    write_zvi(path, img, tile_shape=(200, 300))
    start, size, second = _stream_start(path, "Image/Item(0)/Contents")
    _patch(path, _fat_entry_offset(path, second), "<I", start)  # sector 2 -> sector 1 again
    with olefile.OleFileIO(str(path)) as ole:  # olefile reads it without complaint ...
        looped = ole.openstream("Image/Item(0)/Contents").read()
    assert len(looped) == size and looped[1024:1536] == looped[:512]  # ... repeating sectors
    _refused(path, "sector chain of stream Image/Item(0)/Contents loops back on itself")


def test_streams_sharing_sectors_are_refused(tmp_path):
    img = _gray(200, 600)
    path = tmp_path / "shared.zvi"
    write_zvi(path, img, tile_shape=(200, 300))  # two tiles of 118 sectors each
    start0, _, _ = _stream_start(path, "Image/Item(0)/Contents")
    start1, _, _ = _stream_start(path, "Image/Item(1)/Contents")
    _patch(path, _fat_entry_offset(path, start1), "<I", start0 + 1)  # 1's chain joins 0's
    _refused(path, "runs into stream Image/Item(0)/Contents")


@pytest.mark.parametrize(
    "offset, fmt, value, words",
    [
        (30, "<H", 40, "sectors of 2^40"),  # olefile would ask for 1 TB per sector read
        (44, "<I", 2**31, "more sectors than"),  # FAT sectors far beyond the file
        (72, "<I", 2**30, "more sectors than"),  # DIFAT sectors far beyond the file
    ],
)
def test_compound_header_beyond_the_file_is_refused(tmp_path, offset, fmt, value, words):
    path = tmp_path / "header.zvi"
    write_zvi(path, _gray(100, 100), tile_shape=(50, 50))
    _patch(path, offset, fmt, value)
    _refused(path, words)
