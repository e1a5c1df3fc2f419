"""ZEN ``.czi`` tiled mosaics: read them stitched, write real ones (pylibCZIrw).

ZEISS's own ``pylibCZIrw`` does both. A MosaiX/ZEN tile scan is a set of sub-blocks,
one per tile (its M index), placed at logical pixel positions that may be negative
and that overlap; reading the total bounding rectangle stitches them. Colour is
stored B, G, R and pixel sizes in metres (``Metadata/Scaling/Items/Distance``).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ratescope.core.atomic import atomic_path
from ratescope.core.constants import DEFAULT_PIXEL_SIZE_UM
from ratescope.core.errors import MultipleScenes, RateScopeError
from ratescope.core.io.lazy import Deferred, RegionLevel
from ratescope.core.io.limits import check_decode, check_dimensions
from ratescope.core.io.mosaic import Mosaic
from ratescope.core.io.pixel_size import resolve_pixel_size

COMPRESSION = {
    None: None,
    "none": None,
    "zstd": "zstd0:ExplicitLevel=3",
    "zstd-hilo": "zstd1:ExplicitLevel=3;PreProcess=HiLoByteUnpack",
}
"""Names accepted by :func:`write_czi_mosaic` and the pylibCZIrw option strings they mean."""

EAGER_BYTES = 256 * 1024**2
"""Mosaics up to this size are decoded whole on first access and kept; larger are read
region by region."""

MAX_CHANNELS = 256
"""More channels than this in one file means a damaged subblock directory."""

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


# --------------------------------------------------------------------------- reading

_PIXEL_TYPES = {"Gray8": np.uint8, "Gray16": np.uint16, "Bgr24": np.uint8, "Bgr48": np.uint16}


def czi_scene_names(path: str | Path) -> list[str]:
    """Names of the scenes of a CZI (one entry when it has no scene dimension)."""
    with _open(path) as r:
        return _scene_names(r, _metadata_root(r, Path(path)), Path(path))


def read_czi(
    path: str | Path,
    scene: int | None = None,
    pixel_size_um: float | None = None,
    channel: int = 0,
) -> Mosaic:
    """Open a CZI tile mosaic as a :class:`Mosaic` whose pixels are read on demand.

    Opening reads the metadata and subblock directory only. A mosaic up to
    :data:`EAGER_BYTES` is decoded whole (stitched) on first access and kept; a larger
    one reads, stitched, only the regions sliced (and :meth:`CziLevel.overview` a
    reduced image), so its size is bounded by the file, not by memory.

    Parameters
    ----------
    path : str or Path
        The ``.czi`` file.
    scene : int, optional
        0-based scene index; required when the file holds several scenes.
    pixel_size_um : float, optional
        Overrides the pixel size stored in the file.
    channel : int
        0-based channel (C) of a multi-channel file; ``metadata["channels"]`` names them.

    Returns
    -------
    Mosaic
        One level: (H, W) uint8/uint16 gray or (H, W, 3) RGB, exactly as stored.

    Raises
    ------
    MultipleScenes
        If the file holds several scenes and ``scene`` is None.
    RateScopeError
        If the file is damaged, truncated, holds no image or an unsupported pixel type.
    """
    path = Path(path)
    with _open(path) as r:
        root = _metadata_root(r, path)
        names = _scene_names(r, root, path)
        scene_keys = sorted(_guard(path, lambda: r.scenes_bounding_rectangle_no_pyramid))
        if len(names) > 1 and scene is None:
            raise MultipleScenes(path, names)
        if scene is not None and not 0 <= scene < len(names):
            raise RateScopeError(
                f"there is no scene {scene}; the file holds {len(names)} (0 to {len(names) - 1})",
                path,
            )
        if scene_keys and scene is not None:
            key = scene_keys[scene]
            rect = r.scenes_bounding_rectangle_no_pyramid[key]
        else:
            key = None
            rect = _guard(path, lambda: r.total_bounding_rectangle_no_pyramid)
        check_dimensions(rect.h, rect.w, path)
        box = _guard(path, lambda: r.total_bounding_box)
        c0, c1 = box.get("C", (0, 1))
        if not 0 < c1 - c0 <= MAX_CHANNELS:
            raise RateScopeError(
                f"the file claims {c1 - c0} channels; it is probably damaged", path
            )
        channels = _channel_names(root, c1 - c0)
        if not 0 <= channel < len(channels):
            raise RateScopeError(
                f"there is no channel {channel}; the file holds {len(channels)}", path
            )
        pixel_type = _guard(path, lambda: r.get_channel_pixel_type(channel))
        if pixel_type not in _PIXEL_TYPES:
            raise RateScopeError(
                f"its pixels are of type {pixel_type}; only 8/16-bit gray and colour are supported",
                path,
            )
        tiles = _guard(path, lambda: _count_tiles(r, rect))
    level = CziLevel(path, (rect.x, rect.y, rect.w, rect.h), key, pixel_type, c0 + channel)
    if level.nbytes <= EAGER_BYTES:
        level = Deferred(level.shape, level.dtype, level.read_all)
    from_file = _pixel_size_from_metadata(root)
    size, source = resolve_pixel_size(from_file, pixel_size_um)
    metadata: dict[str, Any] = {
        "tiles": tiles,
        "scenes": names,
        "pixel_type": pixel_type,
        "origin_px": [int(rect.x), int(rect.y)],
    }
    if len(channels) > 1:
        metadata["channels"] = channels
        metadata["channel"] = channel
    metadata.update(_instrument(root))
    return Mosaic(
        path=path,
        format="CZI",
        levels=[level],
        pixel_size_um=size,
        pixel_size_source=source,
        metadata=metadata,
        scene=scene if len(names) > 1 or scene is not None else None,
    )


class CziLevel(RegionLevel):
    """A CZI mosaic (one scene or all), read stitched region by region.

    Each read opens the file anew (no handle stays open) and checks the region against
    the memory budget before libCZI allocates it.
    """

    def __init__(self, path: Path, rect: tuple[int, int, int, int], scene, pixel_type: str,
                 channel: int = 0):  # fmt: skip
        self.path = Path(path)
        self._x, self._y, w, h = (int(v) for v in rect)
        self._scene = scene
        self._channel = int(channel)
        self._rgb = pixel_type.startswith("Bgr")
        self.dtype = np.dtype(_PIXEL_TYPES[pixel_type])
        self.shape: tuple[int, ...] = (h, w, 3) if self._rgb else (h, w)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def read_all(self) -> np.ndarray:
        return self.read_region(0, self.shape[0], 0, self.shape[1])

    def read_region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1`` and columns ``x0:x1`` (clipped to the image), stitched."""
        h, w = self.shape[:2]
        y0, y1, x0, x1 = max(0, y0), min(h, y1), max(0, x0), min(w, x1)
        if y1 <= y0 or x1 <= x0:
            return np.zeros((max(0, y1 - y0), max(0, x1 - x0), *self.shape[2:]), self.dtype)
        channels = 3 if self._rgb else 1
        check_decode(y1 - y0, x1 - x0, channels, self.dtype.itemsize, self.path, "this region")
        roi = (self._x + x0, self._y + y0, x1 - x0, y1 - y0)
        return self._read(roi, None)

    def overview(self, factor: int) -> np.ndarray:
        """The whole level reduced ``factor`` times in each direction (libCZI's zoom)."""
        h, w = self.shape[:2]
        channels = 3 if self._rgb else 1
        check_decode(h // factor, w // factor, channels, self.dtype.itemsize, self.path)
        out = self._read((self._x, self._y, w, h), 1.0 / factor)
        return out[: h // factor, : w // factor]

    def _read(self, roi: tuple[int, int, int, int], zoom: float | None) -> np.ndarray:
        plane = {"C": self._channel, "Z": 0, "T": 0}
        with _open(self.path) as r:
            data = _guard(
                self.path, lambda: r.read(roi=roi, plane=plane, scene=self._scene, zoom=zoom)
            )
        image = data[..., ::-1] if self._rgb else data[..., 0]
        return np.ascontiguousarray(image, dtype=self.dtype)


class _open:
    """``open_czi`` that turns libCZI's complaints into :class:`RateScopeError`.

    A file name that is not valid UTF-8 (possible on Linux) cannot be passed to libCZI;
    such a file is opened by descriptor and handed over as ``/proc/self/fd/N``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self):
        from pylibCZIrw import czi as pyczi

        name = str(self.path)
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            name = self._by_descriptor()
        self._cm = pyczi.open_czi(name)
        try:
            return _guard(self.path, self._cm.__enter__)
        except BaseException:
            self._close_fd()
            raise

    def __exit__(self, *exc):
        try:
            return self._cm.__exit__(*exc)
        finally:
            self._close_fd()

    def _by_descriptor(self) -> str:
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as e:
            raise RateScopeError(f"cannot open the file ({e.strerror})", self.path) from e
        for folder in ("/proc/self/fd", "/dev/fd"):
            if os.path.exists(f"{folder}/{self._fd}"):
                return f"{folder}/{self._fd}"
        self._close_fd()
        raise RateScopeError(
            "its name is not valid UTF-8, which the CZI library cannot open here; rename it",
            self.path,
        )

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _guard(path: Path, fn):
    """Call ``fn()``; any library failure becomes a :class:`RateScopeError` for ``path``."""
    try:
        return fn()
    except RateScopeError:
        raise
    except MemoryError as e:
        raise RateScopeError("the image is too large to load into memory", path) from e
    except Exception as e:  # libCZI raises RuntimeError/ValueError with technical text
        detail = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise RateScopeError(
            f"the CZI file is damaged or truncated and cannot be read ({detail})", path
        ) from e


def _metadata_root(reader, path: Path) -> ET.Element:
    text = _guard(path, lambda: reader.raw_metadata)
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        return ET.Element("ImageDocument")


def _scene_names(reader, root: ET.Element, path: Path) -> list[str]:
    """Scene names from the metadata, else ``Scene #k``. A damaged subblock directory can
    make libCZI's scene count disagree with the metadata: its ValueError is a damaged
    file (:func:`_guard`)."""
    keys = sorted(_guard(path, lambda: reader.scenes_bounding_rectangle_no_pyramid))
    named = [s.get("Name") for s in root.iterfind(".//Dimensions/S/Scenes/Scene")]
    if len(named) == len(keys) and all(named):
        return [str(n) for n in named]
    return [f"Scene #{k + 1}" for k in keys] or ["Scene #1"]


def _channel_names(root: ET.Element, n: int) -> list[str]:
    """Names of the file's ``n`` channels (``"Channel 1"`` ... where the metadata has none)."""
    named = [c.get("Name") for c in root.iterfind(".//Dimensions/Channels/Channel")]
    if len(named) == n and all(named):
        return [str(v) for v in named]
    return [f"Channel {i + 1}" for i in range(max(1, n))]


def _count_tiles(reader, rect) -> int:
    seen: list[int] = []
    reader.enumerate_subblocks_subset(
        lambda _i, info: seen.append(info.mIndex) or True, roi=rect, only_layer0=True
    )
    return len(seen)


def _pixel_size_from_metadata(root: ET.Element) -> float | None:
    """Pixel size in µm from ``Scaling/Items/Distance[@Id='X']/Value`` (stored in metres)."""
    for dist in root.iterfind(".//Scaling/Items/Distance"):
        if dist.get("Id") == "X":
            try:
                metres = float(dist.findtext("Value", ""))
            except ValueError:
                return None
            return round(metres * 1e6, 9) if metres > 0 else None
    return None


def _instrument(root: ET.Element) -> dict[str, str]:
    out = {}
    for key, xpath in (
        ("microscope", ".//Instrument/Microscopes/Microscope"),
        ("objective", ".//Instrument/Objectives/Objective"),
    ):
        el = root.find(xpath)
        if el is not None and (el.get("Name") or el.get("Id")):
            out[key] = el.get("Name") or el.get("Id")
    app = root.findtext(".//Information/Application/Name")
    if app:
        out["software"] = app
    return out


def scene_previews(path: str | Path, max_side: int = 256) -> list[dict[str, Any]]:
    """Per scene of a CZI: ``name``, ``width``/``height`` (px), ``pixel_size_um`` and a
    ``thumbnail`` (RGB or gray, longest side about ``max_side``) read through libCZI's zoom,
    so each scene costs one reduced read whatever its size."""
    path = Path(path)
    with _open(path) as r:
        root = _metadata_root(r, path)
        names = _scene_names(r, root, path)
        rects = _guard(path, lambda: r.scenes_bounding_rectangle_no_pyramid)
        pixel_type = _guard(path, lambda: r.get_channel_pixel_type(0))
    size = _pixel_size_from_metadata(root)
    out = []
    for name, key in zip(names, sorted(rects), strict=False):
        rect = rects[key]
        level = CziLevel(path, (rect.x, rect.y, rect.w, rect.h), key, pixel_type)
        factor = max(1, -(-max(rect.w, rect.h) // max_side))
        thumb = level.overview(factor) if factor > 1 else level.read_all()
        out.append({"name": name, "width": int(rect.w), "height": int(rect.h),
                    "pixel_size_um": size, "thumbnail": thumb})  # fmt: skip
    return out
