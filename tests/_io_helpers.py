"""Writers for the I/O tests: an OLE2 compound file and a ZVI laid out as AxioVision does.

olefile can only read compound files, so a minimal writer of the Microsoft [MS-CFB]
version 3 format (512-byte sectors, a mini stream for streams under 4096 bytes) lives
here. The ZVI streams follow the layout Bio-Formats' ZeissZVIReader parses.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def write_compound_file(path: str | Path, streams: dict[str, bytes]) -> None:
    """Write an OLE2 compound file holding ``streams`` ({"Dir/Sub/Name": bytes}).

    Storages are created from the path components. Streams must not be empty.
    """
    # ---- directory tree: entry 0 is the root storage
    entries = [{"name": "Root Entry", "type": 5, "children": [], "data": b""}]
    index: dict[tuple[str, ...], int] = {(): 0}
    for full in sorted(streams):
        parts = tuple(full.split("/"))
        for depth in range(1, len(parts) + 1):
            key = parts[:depth]
            if key in index:
                continue
            is_stream = depth == len(parts)
            entries.append(
                {
                    "name": key[-1],
                    "type": 2 if is_stream else 1,
                    "children": [],
                    "data": streams[full] if is_stream else b"",
                }
            )
            index[key] = len(entries) - 1
            entries[index[key[:-1]]]["children"].append(index[key])
    for e in entries:
        e.update(left=NOSTREAM, right=NOSTREAM, child=NOSTREAM, start=END, size=0)
    for e in entries:
        kids = sorted(
            e["children"], key=lambda i: (len(entries[i]["name"]), entries[i]["name"].upper())
        )
        e["child"] = _balanced(kids, entries)

    # ---- sector allocation: big streams, mini stream, mini FAT, directory, FAT
    fat: list[int] = []

    def allocate(n_sectors: int) -> int:
        if n_sectors == 0:
            return END
        first = len(fat)
        fat.extend(range(first + 1, first + n_sectors))
        fat.append(END)
        return first

    body = bytearray()
    mini = bytearray()
    minifat: list[int] = []
    for e in entries:
        data = e["data"]
        if e["type"] != 2:
            continue
        e["size"] = len(data)
        if len(data) >= CUTOFF:
            e["start"] = allocate(math.ceil(len(data) / SECTOR))
            body += _pad(data, SECTOR)
        else:
            n = math.ceil(len(data) / MINI)
            e["start"] = len(minifat)
            minifat.extend(range(len(minifat) + 1, len(minifat) + n))
            minifat.append(END)
            mini += _pad(data, MINI)
    root = entries[0]
    root["size"] = len(mini)
    root["start"] = allocate(math.ceil(len(mini) / SECTOR))
    body += _pad(bytes(mini), SECTOR)
    minifat_bytes = _pad(struct.pack(f"<{len(minifat)}I", *minifat), SECTOR, fill=0xFF)
    first_minifat = allocate(len(minifat_bytes) // SECTOR)
    body += minifat_bytes
    directory = b"".join(_dir_entry(e) for e in entries)
    directory += _empty_entries((-len(entries)) % 4)
    first_dir = allocate(len(directory) // SECTOR)
    body += directory
    n_fat = 1
    while math.ceil((len(fat) + n_fat) / 128) > n_fat:
        n_fat += 1
    assert n_fat <= 109, "file too large for a header-only DIFAT"
    fat_first = len(fat)
    fat.extend([FATSECT] * n_fat)
    fat.extend([FREE] * (n_fat * 128 - len(fat)))
    body += struct.pack(f"<{len(fat)}I", *fat)

    difat = list(range(fat_first, fat_first + n_fat)) + [FREE] * (109 - n_fat)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"\0" * 16,
        0x003E,
        3,
        0xFFFE,
        9,
        6,
        b"\0" * 6,
        0,
        n_fat,
        first_dir,
        0,
        CUTOFF,
        first_minifat if minifat else END,
        len(minifat_bytes) // SECTOR,
        END,
        0,
    ) + struct.pack("<109I", *difat)
    Path(path).write_bytes(header + bytes(body))


def _balanced(sorted_ids: list[int], entries: list[dict]) -> int:
    """Link ``sorted_ids`` as a balanced binary tree (all black); return its root."""
    if not sorted_ids:
        return NOSTREAM
    mid = len(sorted_ids) // 2
    node = sorted_ids[mid]
    entries[node]["left"] = _balanced(sorted_ids[:mid], entries)
    entries[node]["right"] = _balanced(sorted_ids[mid + 1 :], entries)
    return node


def _dir_entry(e: dict) -> bytes:
    name = e["name"].encode("utf-16-le")
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name) + 2,
        e["type"],
        1,
        e["left"],
        e["right"],
        e["child"],
        b"\0" * 16,
        0,
        0,
        0,
        e["start"] if e["type"] != 1 else 0,
        e["size"],
    )


def _empty_entries(n: int) -> bytes:
    blank = struct.pack(
        "<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, b"", 0, 0, 0, 0, 0
    )
    return blank * n


def _pad(data: bytes, block: int, fill: int = 0) -> bytes:
    return bytes(data) + bytes([fill]) * ((-len(data)) % block)


# ----------------------------------------------------------------------------- ZVI

VT_EMPTY, VT_I4, VT_R8, VT_DISPATCH, VT_BLOB, VT_STORED_OBJECT = 0, 3, 5, 9, 65, 69


def vt(kind: int, value=None) -> bytes:
    """One typed value: u16 VARIANT type code, then its data."""
    head = struct.pack("<H", kind)
    if kind == VT_EMPTY:
        return head
    if kind == VT_I4:
        return head + struct.pack("<i", value)
    if kind == VT_R8:
        return head + struct.pack("<d", value)
    if kind == VT_DISPATCH:
        return head + b"\0" * 16
    return head + struct.pack("<I", len(value)) + value  # BLOB / STORED_OBJECT


def tags_stream(tags: dict[int, tuple[int, object]]) -> bytes:
    """A ``Tags/Contents`` stream: {id: (VARIANT type, value)}."""
    out = vt(VT_I4, 0x20001000) + vt(VT_I4, len(tags))
    for tag_id, (kind, value) in tags.items():
        out += vt(kind, value) + vt(VT_I4, tag_id) + vt(VT_I4, 0)
    return out


def item_contents(tile: np.ndarray, tile_index: int) -> bytes:
    """An ``Image/Item(n)/Contents`` stream holding ``tile`` (gray, or RGB stored as BGR)."""
    h, w = tile.shape[:2]
    rgb = tile.ndim == 3
    pixel_format = {(False, 1): 3, (False, 2): 4, (True, 1): 1, (True, 2): 8}[(rgb, tile.itemsize)]
    bpp = tile.itemsize * (3 if rgb else 1)
    pixels = np.ascontiguousarray(tile[..., ::-1] if rgb else tile).astype("<" + tile.dtype.char)
    coords = struct.pack("<8i", 0, 0, 0, 0, 0, 0, tile_index, 0)  # z, c, t at bytes 8, 12, 16
    out = b"".join(
        [
            vt(VT_I4, 0x3000_1003),  # version
            vt(VT_EMPTY),  # type description
            vt(VT_EMPTY),  # file name
            vt(VT_I4, w),
            vt(VT_I4, h),
            vt(VT_I4, 1),  # depth
            vt(VT_I4, pixel_format),
            vt(VT_I4, 1),  # count
            vt(VT_I4, 8 * tile.itemsize),  # valid bits per pixel
            vt(VT_BLOB, b"\x11" * 16),  # plugin CLSID
            vt(VT_BLOB, b"\0" * 8),  # others
            vt(VT_BLOB, coords),
            vt(VT_DISPATCH),
            vt(VT_STORED_OBJECT, "Tags".encode("utf-16-le")),
            vt(VT_DISPATCH),
            vt(VT_DISPATCH),
            vt(VT_DISPATCH),
        ]
    )
    raw = struct.pack("<7i", 0x10002000, w, h, 1, bpp, pixel_format, 8 * tile.itemsize)
    return out + raw + pixels.tobytes()


def write_zvi(
    path: str | Path,
    image: np.ndarray,
    *,
    tile_shape: tuple[int, int] = (200, 300),
    overlap: int = 0,
    pixel_size_um: float | None = 0.5,
    stage_origin_um: tuple[float, float] | None = (12000.0, -3500.25),
) -> list[tuple[int, int]]:
    """Write ``image`` as a MosaiX ZVI: one Item per tile, tags with grid and stage position.

    ``stage_origin_um=None`` leaves out the stage tags (grid index only). Returns the
    (y, x) pixel position of each tile.
    """
    th, tw = tile_shape
    step_y, step_x = th - overlap, tw - overlap
    rows = max(1, math.ceil((image.shape[0] - overlap) / step_y))
    cols = max(1, math.ceil((image.shape[1] - overlap) / step_x))
    streams: dict[str, bytes] = {}
    image_tags: dict[int, tuple[int, object]] = {
        515: (VT_I4, image.shape[1]),
        516: (VT_I4, image.shape[0]),
    }
    if pixel_size_um is not None:
        image_tags |= {
            769: (VT_R8, pixel_size_um),
            770: (VT_I4, 76),
            772: (VT_R8, pixel_size_um),
            773: (VT_I4, 76),
        }
    streams["Image/Contents"] = (
        vt(VT_I4, 0x3000_1003) + vt(VT_EMPTY) + vt(VT_EMPTY) + vt(VT_I4, image.shape[1])
    )
    streams["Image/Tags/Contents"] = tags_stream(image_tags)
    positions = []
    n = 0
    for r in range(rows):
        for c in range(cols):
            y, x = r * step_y, c * step_x
            tile = image[y : y + th, x : x + tw]
            streams[f"Image/Item({n})/Contents"] = item_contents(tile, n)
            tags = {
                2817: (VT_I4, c),
                2818: (VT_I4, r),
                515: (VT_I4, tile.shape[1]),
                516: (VT_I4, tile.shape[0]),
            }
            if stage_origin_um is not None:
                sx = stage_origin_um[0] + x * (pixel_size_um or 0.123)
                sy = stage_origin_um[1] + y * (pixel_size_um or 0.123)
                tags |= {2073: (VT_R8, sx), 2074: (VT_R8, sy)}
            streams[f"Image/Item({n})/Tags/Contents"] = tags_stream(tags)
            positions.append((y, x))
            n += 1
    write_compound_file(path, streams)
    return positions
