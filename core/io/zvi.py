"""AxioVision ``.zvi`` MosaiX mosaics: an OLE2 compound file, one stream per tile.

Layout, as Bio-Formats' ``ZeissZVIReader`` and slideio's ZVI driver read it:

- ``Image/Item(n)/Contents``: 11 typed values (VARIANT type code + value), a VT_BLOB
  whose int32s at byte 8, 12, 16 and 24 are the Z, C, T and tile index, 5 more typed
  values, then seven int32 (version, width, height, depth, bytes per pixel, pixel
  format, valid bits) and the raw pixels, row by row (colour as B, G, R).
- ``Image/Item(n)/Tags/Contents`` and ``Image/Tags/Contents``: typed version, typed
  count, then (typed value, typed int32 id, typed int32 attribute) per tag. Tag 2817/2818
  are the tile column/row, 2073/2074 the stage X/Y in µm, 769/772 the pixel size in µm.

Tiles are placed from their stage positions; where those are missing, from the grid
index times the tile size.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.io.limits import check_dimensions
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.pixel_size import resolve_pixel_size

TAG_SCALE_X, TAG_SCALE_UNIT_X, TAG_SCALE_Y = 769, 770, 772
TAG_STAGE_X, TAG_STAGE_Y = 2073, 2074
TAG_TILE_COLUMN, TAG_TILE_ROW = 2817, 2818
SCALE_UNIT_MICROMETRE, SCALE_UNIT_NONE = 76, 0

PIXEL_FORMATS = {
    1: (np.uint8, 3),
    2: (np.uint8, 4),
    3: (np.uint8, 1),
    4: (np.uint16, 1),
    8: (np.uint16, 3),
}
"""ZVI pixel format -> (dtype, samples): BGR24, BGRA32, Gray8, Gray16, BGR48."""

_FIXED = {0: "", 1: "", 2: "<h", 3: "<i", 4: "<f", 5: "<d", 7: "<d", 11: "<h", 19: "<I"}
_FIXED |= {20: "<q", 21: "<Q", 22: "<i", 23: "<I"}
"""VARIANT type codes with fixed-size data and how to unpack it (VT_EMPTY/NULL: none)."""
_GUID = {9, 13, 72}  # VT_DISPATCH, VT_UNKNOWN, VT_CLSID: 16 bytes
_LENGTH_PREFIXED = {8, 63, 65, 69}  # VT_BSTR, VT_CF, VT_BLOB, VT_STORED_OBJECT
_ITEM = re.compile(r"^Item\((\d+)\)$", re.IGNORECASE)


@dataclass
class ZviTile:
    """One tile stream: its pixels' place in the stream and its tags."""

    index: int
    width: int
    height: int
    dtype: np.dtype
    samples: int
    data_offset: int
    zct: tuple[int, int, int]
    tags: dict[int, Any] = field(default_factory=dict)


def read_variant(buf: bytes, pos: int) -> tuple[Any, int]:
    """Read one typed value (u16 VARIANT type then data) at ``pos``; return (value, next pos)."""
    (vt,) = struct.unpack_from("<H", buf, pos)
    pos += 2
    if vt in _FIXED:
        fmt = _FIXED[vt]
        if not fmt:
            return None, pos
        return struct.unpack_from(fmt, buf, pos)[0], pos + struct.calcsize(fmt)
    if vt in _GUID:
        return buf[pos : pos + 16], pos + 16
    if vt in _LENGTH_PREFIXED:
        (n,) = struct.unpack_from("<I", buf, pos)
        if pos + 4 + n > len(buf):
            raise ValueError("value runs past the end of the stream")
        raw = buf[pos + 4 : pos + 4 + n]
        return (raw.decode("utf-16-le", "replace").rstrip("\x00") if vt == 8 else raw), pos + 4 + n
    raise ValueError(f"unknown value type {vt} at byte {pos - 2}")


def parse_tags(buf: bytes) -> dict[int, Any]:
    """Tag id -> value of a ``Tags/Contents`` stream (first occurrence wins)."""
    tags: dict[int, Any] = {}
    _, pos = read_variant(buf, 0)
    count, pos = read_variant(buf, pos)
    for _ in range(int(count or 0)):
        if pos + 2 > len(buf):
            break
        value, pos = read_variant(buf, pos)
        tag_id, pos = read_variant(buf, pos)
        _, pos = read_variant(buf, pos)
        tags.setdefault(int(tag_id), value)
    return tags


def parse_item_header(buf: bytes, index: int) -> ZviTile:
    """Geometry and pixel offset of one ``Image/Item(n)/Contents`` stream."""
    pos = 0
    for _ in range(11):
        _, pos = read_variant(buf, pos)
    blob, pos = read_variant(buf, pos)
    z, c, t = struct.unpack_from("<iii", blob, 8) if len(blob) >= 20 else (0, 0, 0)
    for _ in range(5):
        _, pos = read_variant(buf, pos)
    _version, width, height, _depth, _bpp, pixel_format, valid_bits = struct.unpack_from(
        "<7i", buf, pos
    )
    if valid_bits in (0, 1):
        raise ValueError("compressed (JPEG/zlib) tiles are not supported")
    if pixel_format not in PIXEL_FORMATS:
        raise ValueError(f"pixel format {pixel_format} is not supported")
    dtype, samples = PIXEL_FORMATS[pixel_format]
    return ZviTile(index, width, height, np.dtype(dtype), samples, pos + 28, (z, c, t))


def read_zvi(path: str | Path, pixel_size_um: float | None = None) -> Mosaic:
    """Read an AxioVision ZVI mosaic, its tiles placed on one canvas.

    Parameters
    ----------
    path : str or Path
        The ``.zvi`` file.
    pixel_size_um : float, optional
        Overrides the pixel size in the file's tags (769).

    Returns
    -------
    Mosaic
        (H, W) gray or (H, W, 3) RGB, uint8/uint16 as stored. Only the first Z, channel
        and time point are used (a MosaiX bright-field scan has one of each).
    """
    import olefile

    path = Path(path)
    try:
        ole = olefile.OleFileIO(str(path))
    except Exception as e:
        raise RateScopeError(
            "the file is damaged or truncated: it is not a readable AxioVision ZVI container "
            f"({type(e).__name__})",
            path,
        ) from e
    with ole:
        try:
            tiles, image_tags = _read_tiles(ole)
        except (ValueError, struct.error, OSError) as e:
            raise RateScopeError(
                f"the ZVI file is damaged or not a MosaiX image ({e})", path
            ) from e
        if not tiles:
            raise RateScopeError("the file is an OLE2 container but holds no ZVI image tiles", path)
        from_file = _pixel_size(image_tags) or _pixel_size(tiles[0].tags)
        px = from_file or resolve_pixel_size(None, None)[0]
        positions, placed_by = _positions(tiles, px)
        height = max(y + t.height for (y, _), t in zip(positions, tiles, strict=True))
        width = max(x + t.width for (_, x), t in zip(positions, tiles, strict=True))
        check_dimensions(height, width, path)
        canvas = np.zeros(
            (height, width) if tiles[0].samples == 1 else (height, width, 3), tiles[0].dtype
        )
        for (y, x), tile in zip(positions, tiles, strict=True):
            canvas[y : y + tile.height, x : x + tile.width] = _pixels(ole, tile, path)
    value, source = resolve_pixel_size(from_file, pixel_size_um)
    metadata = {
        "tiles": len(tiles),
        "tiles_placed_by": placed_by,
        "tile_shape": [tiles[0].height, tiles[0].width],
    }
    return Mosaic(path, "ZVI", [canvas], value, source, metadata)


def _read_tiles(ole: Any) -> tuple[list[ZviTile], dict[int, Any]]:
    image_tags = (
        parse_tags(ole.openstream("Image/Tags/Contents").read())
        if ole.exists("Image/Tags/Contents")
        else {}
    )
    tiles = []
    for entry in ole.listdir(streams=True, storages=False):
        if len(entry) != 3 or entry[0].lower() != "image" or entry[2].lower() != "contents":
            continue
        m = _ITEM.match(entry[1])
        if not m:
            continue
        stream = ole.openstream(entry)
        tile = parse_item_header(stream.read(4096), int(m.group(1)))
        tags_path = f"{entry[0]}/{entry[1]}/Tags/Contents"
        if ole.exists(tags_path):
            tile.tags = parse_tags(ole.openstream(tags_path).read())
        if tile.zct == (0, 0, 0):
            tiles.append(tile)
    tiles.sort(key=lambda t: t.index)
    return tiles, image_tags


def _pixel_size(tags: dict[int, Any]) -> float | None:
    value = tags.get(TAG_SCALE_X)
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    if tags.get(TAG_SCALE_UNIT_X, SCALE_UNIT_MICROMETRE) == SCALE_UNIT_NONE:
        return None
    return float(value)


def _positions(tiles: list[ZviTile], pixel_size_um: float) -> tuple[list[tuple[int, int]], str]:
    """(y, x) of each tile in canvas pixels, and whether from ``"stage"`` or ``"grid"``."""
    stage = [(t.tags.get(TAG_STAGE_Y), t.tags.get(TAG_STAGE_X)) for t in tiles]
    if all(isinstance(v, (int, float)) for yx in stage for v in yx) and len(set(stage)) == len(
        tiles
    ):
        ys = np.array([s[0] for s in stage]) / pixel_size_um
        xs = np.array([s[1] for s in stage]) / pixel_size_um
        ys, xs = np.rint(ys - ys.min()).astype(int), np.rint(xs - xs.min()).astype(int)
        return list(zip(ys.tolist(), xs.tolist(), strict=True)), "stage"
    grid = [(int(t.tags.get(TAG_TILE_ROW, 0)), int(t.tags.get(TAG_TILE_COLUMN, 0))) for t in tiles]
    if len(set(grid)) != len(tiles):
        side = int(np.ceil(np.sqrt(len(tiles))))
        grid = [divmod(i, side) for i in range(len(tiles))]
    return [(r * tiles[0].height, c * tiles[0].width) for r, c in grid], "grid"


def _pixels(ole: Any, tile: ZviTile, path: Path) -> np.ndarray:
    stream = ole.openstream(f"Image/Item({tile.index})/Contents")
    stream.seek(tile.data_offset)
    n = tile.width * tile.height * tile.samples * tile.dtype.itemsize
    raw = stream.read(n)
    if len(raw) < n:
        raise RateScopeError(f"tile {tile.index} is truncated: its pixel data is incomplete", path)
    shape = (
        (tile.height, tile.width) if tile.samples == 1 else (tile.height, tile.width, tile.samples)
    )
    pixels = np.frombuffer(raw, dtype=tile.dtype.newbyteorder("<")).reshape(shape)
    return pixels if tile.samples == 1 else pixels[..., 2::-1]  # B, G, R(, A) -> R, G, B
