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

A damaged file raises :class:`RateScopeError` naming it, never a traceback and never
silently wrong pixels: the compound file header is checked before olefile reads it (so
olefile's work is bounded by the file's size), every sector chain is walked before its
stream is read (olefile does not notice a chain that loops back or two streams sharing
sectors: it returns the same sectors twice), each tile's size is checked against its
stream and the stitched canvas against the memory budget before anything is allocated,
and tiles must share one pixel format and have finite, plausible positions.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.io.limits import MAX_SIDE, check_decode, check_dimensions
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.pixel_size import plausible, resolve_pixel_size

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

MIN_COVERAGE = 1 / 16
"""The tiles must cover at least this share of the canvas their positions span: MosaiX
tiles abut or overlap, so a mosaic that would be mostly empty has damaged positions (a
flipped exponent in one stage position would otherwise allocate a gigabyte of zeros)."""

ENDOFCHAIN = 0xFFFFFFFE
_DAMAGE = (ValueError, struct.error, OSError, IndexError, KeyError, OverflowError, TypeError,
           RecursionError, MemoryError)  # fmt: skip
"""What olefile and the stream parsers raise on damaged bytes (OleFileError is an OSError)."""


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
    stream: str = ""
    """The ``Image/Item(n)/Contents`` path as the file spells it."""
    stream_size: int = 0

    @property
    def channels(self) -> int:
        """Channels on the canvas: 1 (gray) or 3 (RGB; an alpha sample is dropped)."""
        return 1 if self.samples == 1 else 3

    @property
    def nbytes(self) -> int:
        """Bytes of pixel data the tile's header declares."""
        return self.width * self.height * self.samples * self.dtype.itemsize


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
    if count is not None and not isinstance(count, int):
        raise ValueError(f"the tag count is {count!r}, not a number")
    for _ in range(count or 0):  # each tag takes at least 6 bytes: bounded by the stream
        if pos + 2 > len(buf):
            break
        value, pos = read_variant(buf, pos)
        tag_id, pos = read_variant(buf, pos)
        _, pos = read_variant(buf, pos)
        if isinstance(tag_id, int):
            tags.setdefault(tag_id, value)
    return tags


def parse_item_header(buf: bytes, index: int) -> ZviTile:
    """Geometry and pixel offset of one ``Image/Item(n)/Contents`` stream."""
    pos = 0
    for _ in range(11):
        _, pos = read_variant(buf, pos)
    blob, pos = read_variant(buf, pos)
    ok = isinstance(blob, bytes) and len(blob) >= 20
    z, c, t = struct.unpack_from("<iii", blob, 8) if ok else (0, 0, 0)
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

    Raises
    ------
    RateScopeError
        The file is damaged or truncated (header, sector chains, tile headers, tags),
        its tiles mix pixel formats, their positions are not finite or absurd, or the
        stitched mosaic would exceed the memory budget.
    """
    import olefile

    path = Path(path)
    check_compound_header(path)
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
            container = CheckedContainer(ole, path)
            tiles, image_tags = _read_tiles(container, path)
            if not tiles:
                raise RateScopeError(
                    "the file is an OLE2 container but holds no ZVI image tiles", path
                )
            from_file = _pixel_size(image_tags) or _pixel_size(tiles[0].tags)
            px = from_file or resolve_pixel_size(None, None)[0]
            positions, placed_by = _positions(tiles, px, path)
            height, width = _canvas_size(tiles, positions, path)
            canvas = np.zeros(
                (height, width) if tiles[0].channels == 1 else (height, width, 3), tiles[0].dtype
            )
            for (y, x), tile in zip(positions, tiles, strict=True):
                canvas[y : y + tile.height, x : x + tile.width] = _pixels(container, tile, path)
        except RateScopeError:
            raise
        except _DAMAGE as e:
            reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            raise RateScopeError(
                f"the ZVI file is damaged or not a MosaiX image ({reason})", path
            ) from e
    value, source = resolve_pixel_size(from_file, pixel_size_um)
    metadata = {
        "tiles": len(tiles),
        "tiles_placed_by": placed_by,
        "tile_shape": [tiles[0].height, tiles[0].width],
    }
    return Mosaic(path, "ZVI", [canvas], value, source, metadata)


def check_compound_header(path: Path) -> None:
    """Refuse an OLE2 header whose sector sizes or counts the file cannot hold.

    olefile trusts these fields: a sector shift of 40 makes it ask for a terabyte per
    read, and FAT/DIFAT counts far beyond the file make it loop for minutes. After this
    check every count olefile follows is bounded by the number of sectors in the file.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise RateScopeError(f"the file cannot be read ({e.strerror or e})", path) from e
    if len(head) < 512:
        raise RateScopeError(
            f"the file is truncated or damaged: {size} bytes, less than a compound file "
            "header (512 bytes)",
            path,
        )
    shift, mini_shift = struct.unpack_from("<HH", head, 30)
    if shift not in (9, 12) or mini_shift != 6:
        raise RateScopeError(
            "the file is damaged: its compound file header declares sectors of 2^"
            f"{shift} and mini sectors of 2^{mini_shift} bytes (512 or 4096, and 64)",
            path,
        )
    n_dir, n_fat = struct.unpack_from("<II", head, 40)
    n_minifat, _first_difat, n_difat = struct.unpack_from("<III", head, 64)
    sectors = -(-size // (1 << shift)) - 1
    if max(n_dir, n_fat, n_minifat, n_difat) > sectors:
        raise RateScopeError(
            "the file is damaged or truncated: its compound file header declares more "
            f"sectors than its {size} bytes hold",
            path,
        )


class CheckedContainer:
    """An open compound file whose sector chains are walked before a stream is read.

    olefile reads a stream by following its FAT chain for as many sectors as the
    stream's declared size needs. A chain that loops back is followed round again (the
    stream comes back with repeated sectors: silently wrong pixels) and two streams that
    share sectors are not noticed. Here the directory, mini FAT and mini stream chains
    are walked when the file is opened and each stream's chain before it is read: a
    sector reached twice, a sector outside the file or a chain that ends early refuses
    the file. Only olefile's public attributes are used (``fat``, ``minifat``, ``root``,
    the header fields and the directory entries' ``kids``, ``isectStart`` and ``size``).
    """

    def __init__(self, ole: Any, path: Path):
        self.ole, self.path = ole, path
        self._owner: dict[str, dict[int, str]] = {"FAT": {}, "mini FAT": {}}
        self._checked: set[int] = set()
        self._walk("FAT", ole.first_dir_sector, None, "the directory")
        if ole.num_mini_fat_sectors:
            self._walk("FAT", ole.first_mini_fat_sector, ole.num_mini_fat_sectors, "the mini FAT")
        if ole.root.size:
            n = -(-ole.root.size // ole.sector_size)
            self._walk("FAT", ole.root.isectStart, n, "the mini stream")

    def read(self, entry: Any, stream_path: str) -> bytes:
        """The whole stream of directory ``entry``, opened as ``stream_path``."""
        if entry.sid not in self._checked:
            if entry.size < self.ole.mini_stream_cutoff_size:
                if self.ole.minifat is None:
                    self.ole.loadminifat()
                table, sector = "mini FAT", self.ole.mini_sector_size
            else:
                table, sector = "FAT", self.ole.sector_size
            self._walk(table, entry.isectStart, -(-entry.size // sector), f"stream {stream_path}")
            self._checked.add(entry.sid)
        return self.ole.openstream(stream_path).read()

    def _walk(self, table_name: str, first: int, n: int | None, what: str) -> None:
        """Follow ``n`` sectors from ``first`` (to the end marker when ``n`` is None)."""
        table = self.ole.fat if table_name == "FAT" else self.ole.minifat
        owner = self._owner[table_name]
        sect = first
        for _ in range(len(table) + 1 if n is None else n):
            if n is None and sect == ENDOFCHAIN:
                return
            if sect >= len(table):
                end = "ends early" if sect == ENDOFCHAIN else f"points outside the file ({sect})"
                raise RateScopeError(
                    f"the file is truncated or damaged: the sector chain of {what} {end}",
                    self.path,
                )
            if sect in owner:
                again = (
                    "loops back on itself" if owner[sect] == what else f"runs into {owner[sect]}"
                )
                raise RateScopeError(
                    f"the file is damaged: the sector chain of {what} {again} "
                    f"(sector {sect} reached twice)",
                    self.path,
                )
            owner[sect] = what
            sect = table[sect]


def _kids(entry: Any, path: str) -> dict[str, Any]:
    """``entry``'s children by lower-case name; a name given twice is damage (olefile
    would open the first while another was checked)."""
    kids: dict[str, Any] = {}
    for kid in entry.kids:
        key = kid.name.lower()
        if key in kids:
            raise ValueError(f"{path or 'the root'} holds two entries named {kid.name!r}")
        kids[key] = kid
    return kids


def _stream(storage: Any, name: str, prefix: str) -> Any | None:
    import olefile

    kid = _kids(storage, prefix).get(name.lower())
    return kid if kid is not None and kid.entry_type == olefile.STGTY_STREAM else None


def _read_tiles(c: CheckedContainer, path: Path) -> tuple[list[ZviTile], dict[int, Any]]:
    import olefile

    image = _kids(c.ole.root, "").get("image")
    if image is None or image.entry_type != olefile.STGTY_STORAGE:
        return [], {}
    image_tags: dict[int, Any] = {}
    tags_storage = _kids(image, image.name).get("tags")
    if tags_storage is not None and tags_storage.entry_type == olefile.STGTY_STORAGE:
        entry = _stream(tags_storage, "Contents", f"{image.name}/{tags_storage.name}")
        if entry is not None:
            image_tags = parse_tags(c.read(entry, f"{image.name}/{tags_storage.name}/Contents"))
    tiles = []
    for item in _kids(image, image.name).values():
        m = _ITEM.match(item.name)
        if not m or item.entry_type != olefile.STGTY_STORAGE:
            continue
        prefix = f"{image.name}/{item.name}"
        entry = _stream(item, "Contents", prefix)
        if entry is None:
            continue
        stream = f"{prefix}/{entry.name}"
        tile = parse_item_header(c.read(entry, stream)[:4096], int(m.group(1)))
        tile.stream, tile.stream_size = stream, entry.size
        tags = _kids(item, prefix).get("tags")
        if tags is not None and tags.entry_type == olefile.STGTY_STORAGE:
            tags_entry = _stream(tags, "Contents", f"{prefix}/{tags.name}")
            if tags_entry is not None:
                tile.tags = parse_tags(c.read(tags_entry, f"{prefix}/{tags.name}/Contents"))
        if tile.zct == (0, 0, 0):
            _check_tile(tile, path)
            tiles.append(tile)
    tiles.sort(key=lambda t: t.index)
    _check_formats(tiles, path)
    return tiles, image_tags


def _check_tile(tile: ZviTile, path: Path) -> None:
    """The tile's declared size is sane and its stream holds that many pixels."""
    check_dimensions(tile.height, tile.width, path)
    if tile.data_offset + tile.nbytes > tile.stream_size:
        raise RateScopeError(
            f"tile {tile.index} is truncated or damaged: its header declares "
            f"{tile.width} x {tile.height} px ({tile.nbytes} bytes) but its stream holds "
            f"{max(0, tile.stream_size - tile.data_offset)} bytes of pixels",
            path,
        )


def _describe(tile: ZviTile) -> str:
    return f"{8 * tile.dtype.itemsize}-bit {'gray' if tile.channels == 1 else 'RGB'}"


def _check_formats(tiles: list[ZviTile], path: Path) -> None:
    """All tiles share one pixel type (a gray tile among RGB ones cannot be placed)."""
    for tile in tiles[1:]:
        if (tile.dtype, tile.channels) != (tiles[0].dtype, tiles[0].channels):
            raise RateScopeError(
                f"the tiles mix pixel formats (tile {tiles[0].index} is {_describe(tiles[0])}, "
                f"tile {tile.index} {_describe(tile)}); the file is damaged or not one mosaic",
                path,
            )


def _pixel_size(tags: dict[int, Any]) -> float | None:
    value = tags.get(TAG_SCALE_X)
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    if tags.get(TAG_SCALE_UNIT_X, SCALE_UNIT_MICROMETRE) == SCALE_UNIT_NONE:
        return None
    return plausible(float(value))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positions(
    tiles: list[ZviTile], pixel_size_um: float, path: Path
) -> tuple[list[tuple[int, int]], str]:
    """(y, x) of each tile in canvas pixels, and whether from ``"stage"`` or ``"grid"``."""
    stage = [(t.tags.get(TAG_STAGE_Y), t.tags.get(TAG_STAGE_X)) for t in tiles]
    if all(_is_number(v) for yx in stage for v in yx):
        for t, (sy, sx) in zip(tiles, stage, strict=True):
            if not (math.isfinite(sy) and math.isfinite(sx)):
                raise RateScopeError(
                    f"tile {t.index} has no valid stage position (x {sx} µm, y {sy} µm); "
                    "the file is damaged",
                    path,
                )
    if all(_is_number(v) for yx in stage for v in yx) and len(set(stage)) == len(tiles):
        with np.errstate(over="ignore", invalid="ignore"):  # 1e308 µm: inf, refused below
            ys = np.array([s[0] for s in stage], np.float64) / pixel_size_um
            xs = np.array([s[1] for s in stage], np.float64) / pixel_size_um
            ys, xs = ys - ys.min(), xs - xs.min()
        span = max(float(ys.max()), float(xs.max()))
        if not span <= MAX_SIDE:  # also catches an overflow to inf
            raise RateScopeError(
                f"the tiles' stage positions lie {span * pixel_size_um:.4g} µm apart, "
                f"{span:.4g} px at {pixel_size_um} µm/px: they are damaged",
                path,
            )
        ys, xs = np.rint(ys).astype(np.int64), np.rint(xs).astype(np.int64)
        return list(zip(ys.tolist(), xs.tolist(), strict=True)), "stage"
    grid = [(_grid_index(t, TAG_TILE_ROW, path), _grid_index(t, TAG_TILE_COLUMN, path))
            for t in tiles]  # fmt: skip
    if len(set(grid)) != len(tiles):
        side = int(np.ceil(np.sqrt(len(tiles))))
        grid = [divmod(i, side) for i in range(len(tiles))]
    for t in tiles[1:]:
        if t.height > tiles[0].height or t.width > tiles[0].width:
            raise RateScopeError(
                f"tile {t.index} ({t.width} x {t.height} px) is larger than the first tile "
                f"({tiles[0].width} x {tiles[0].height} px) and has no stage position: it "
                "cannot be placed on the tile grid",
                path,
            )
    return [(r * tiles[0].height, c * tiles[0].width) for r, c in grid], "grid"


def _grid_index(tile: ZviTile, tag: int, path: Path) -> int:
    """Tile row (2818) or column (2817), 0 when absent; a negative or absurd one is damage."""
    v = tile.tags.get(tag, 0)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or not 0 <= v <= MAX_SIDE:
        what = "row" if tag == TAG_TILE_ROW else "column"
        raise RateScopeError(
            f"tile {tile.index} has an invalid grid {what} ({v!r}); the file is damaged", path
        )
    return v


def _canvas_size(
    tiles: list[ZviTile], positions: list[tuple[int, int]], path: Path
) -> tuple[int, int]:
    """(height, width) of the stitched mosaic, checked before it is allocated."""
    height = max(y + t.height for (y, _), t in zip(positions, tiles, strict=True))
    width = max(x + t.width for (_, x), t in zip(positions, tiles, strict=True))
    check_dimensions(height, width, path)
    covered = sum(t.height * t.width for t in tiles)
    if covered < MIN_COVERAGE * height * width:
        raise RateScopeError(
            f"the tile positions spread {len(tiles)} tiles over {width} x {height} px, of "
            f"which they cover {100 * covered / (height * width):.2g} %: they are damaged",
            path,
        )
    t0 = tiles[0]
    check_decode(height, width, t0.channels, t0.dtype.itemsize, path, "the stitched mosaic")
    return height, width


def _pixels(c: CheckedContainer, tile: ZviTile, path: Path) -> np.ndarray:
    """The tile's pixels as (H, W) or (H, W, 3) RGB (its chain was walked when its header
    was read, and its size checked against the stream)."""
    raw = c.ole.openstream(tile.stream).read()[tile.data_offset : tile.data_offset + tile.nbytes]
    if len(raw) < tile.nbytes:
        raise RateScopeError(f"tile {tile.index} is truncated: its pixel data is incomplete", path)
    shape = (
        (tile.height, tile.width) if tile.samples == 1 else (tile.height, tile.width, tile.samples)
    )
    pixels = np.frombuffer(raw, dtype=tile.dtype.newbyteorder("<")).reshape(shape)
    return pixels if tile.samples == 1 else pixels[..., 2::-1]  # B, G, R(, A) -> R, G, B
