"""ZEN ``.czi`` tiled mosaics: read them stitched, write real ones (pylibCZIrw).

ZEISS's own ``pylibCZIrw`` does both. A MosaiX/ZEN tile scan is a set of sub-blocks,
one per tile (its M index), placed at logical pixel positions that may be negative
and that overlap; reading the total bounding rectangle stitches them. Colour is
stored B, G, R and pixel sizes in metres (``Metadata/Scaling/Items/Distance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.constants import DEFAULT_PIXEL_SIZE_UM

COMPRESSION = {
    None: None,
    "none": None,
    "zstd": "zstd0:ExplicitLevel=3",
    "zstd-hilo": "zstd1:ExplicitLevel=3;PreProcess=HiLoByteUnpack",
}
"""Names accepted by :func:`write_czi_mosaic` and the pylibCZIrw option strings they mean."""

_GAP_BETWEEN_SCENES = 1000
"""Pixels left between scenes written side by side."""


def tile_starts(extent: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``extent`` with ``overlap``.

    The last tile is pulled back to end exactly at ``extent``, so every tile has the
    full size (as a microscope stage scan does) unless ``extent < tile``.
    """
    if extent <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, extent - tile + 1, step))
    if starts[-1] + tile < extent:
        starts.append(extent - tile)
    return starts


def write_czi_mosaic(
    path: str | Path,
    image: np.ndarray | Sequence[np.ndarray],
    *,
    tile_shape: tuple[int, int] = (512, 512),
    overlap: int = 32,
    origin: tuple[int, int] = (0, 0),
    pixel_size_um: float = DEFAULT_PIXEL_SIZE_UM,
    compression: str | None = "zstd",
    document_name: str = "RateScope mosaic",
    custom_attributes: dict[str, int | float | bool | str] | None = None,
) -> None:
    """Write ``image`` as a real tiled mosaic CZI, the way ZEN stores a tile scan.

    Parameters
    ----------
    path : str or Path
        Target ``.czi`` file; written atomically (replaced if it exists).
    image : ndarray or sequence of ndarray
        (H, W) uint8/uint16 gray or (H, W, 3) uint8 **RGB** image. A sequence writes one
        scene per image, placed side by side left to right.
    tile_shape : (int, int)
        Tile (height, width) in pixels; edge tiles are shifted inwards to keep this size.
    overlap : int
        Pixels shared by neighbouring tiles (the overlapping pixels are equal, as they
        are in the stitched source).
    origin : (int, int)
        Logical (x, y) of the first scene's top-left pixel; may be negative.
    pixel_size_um : float
        Pixel size in µm, stored in metres in the metadata.
    compression : {"zstd", "zstd-hilo", "none", None}
        Sub-block compression.
    document_name : str
        Title stored in the metadata.
    custom_attributes : dict, optional
        Extra key/values stored in the metadata.

    Examples
    --------
    >>> write_czi_mosaic("m.czi", np.zeros((975, 6300), np.uint16))  # doctest: +SKIP
    """
    from pylibCZIrw import czi as pyczi

    scenes = [image] if isinstance(image, np.ndarray) else list(image)
    for img in scenes:
        _check_writable(img)
    if compression not in COMPRESSION:
        raise ValueError(f"compression must be one of {sorted(map(str, COMPRESSION))}")
    th, tw = tile_shape
    x_scene, y0 = origin
    with atomic_path(path) as tmp:
        tmp.unlink()  # pylibCZIrw creates the file itself
        with pyczi.create_czi(str(tmp), compression_options=COMPRESSION[compression]) as w:
            for s, img in enumerate(scenes):
                h, w_px = img.shape[:2]
                for ty in tile_starts(h, th, overlap):
                    for tx in tile_starts(w_px, tw, overlap):
                        tile = img[ty : ty + th, tx : tx + tw]
                        if tile.ndim == 3:
                            tile = tile[..., ::-1]  # pylibCZIrw wants B, G, R
                        w.write(
                            np.ascontiguousarray(tile),
                            location=(x_scene + tx, y0 + ty),
                            plane={"C": 0, "Z": 0, "T": 0},
                            scene=s,
                        )
                x_scene += w_px + _GAP_BETWEEN_SCENES
            metres = pixel_size_um * 1e-6
            w.write_metadata(
                document_name=document_name,
                scale_x=metres,
                scale_y=metres,
                custom_attributes=custom_attributes,
            )


def _check_writable(img: np.ndarray) -> None:
    gray = img.ndim == 2 and img.dtype in (np.uint8, np.uint16)
    rgb = img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    if not (gray or rgb):
        raise ValueError(
            f"expected (H, W) uint8/uint16 or (H, W, 3) uint8, got {img.shape} {img.dtype}"
        )
