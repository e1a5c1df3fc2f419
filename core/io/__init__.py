"""Reading microscope mosaics: one entry point, :func:`load_mosaic`.

Formats are recognised from their first bytes: ZEN ``.czi`` tile mosaics, AxioVision
``.zvi`` MosaiX mosaics, TIFF / BigTIFF / OME-TIFF (tiled pyramids read lazily), PNG and
JPEG. Every failure a user can act on raises :class:`core.errors.RateScopeError`.
"""

from __future__ import annotations

from pathlib import Path

from ratescope.core.errors import RateScopeError
from ratescope.core.io.detect import detect_format
from ratescope.core.io.mosaic import MAX_IN_MEMORY_BYTES, Mosaic

__all__ = ["MAX_IN_MEMORY_BYTES", "Mosaic", "detect_format", "list_scenes", "load_mosaic"]


def load_mosaic(
    path: str | Path,
    scene: int | None = None,
    pixel_size_um: float | None = None,
    channel: int = 0,
) -> Mosaic:
    """Open a micrograph mosaic of any supported format.

    Parameters
    ----------
    path : str or Path
        The image file. Its format is recognised from its contents.
    scene : int, optional
        0-based scene to load from a multi-scene CZI (see :func:`list_scenes`).
    pixel_size_um : float, optional
        Pixel size in µm to use instead of the file's (source ``"user"``). When neither
        is given nor stored, the paper's 0.123 µm is used (source ``"default"``).
    channel : int
        Channel of a multi-channel CZI (``metadata["channels"]`` lists them); other
        formats hold one image (gray or colour) and accept only 0.

    Returns
    -------
    Mosaic
        Stitched image (RGB or gray, 8 or 16 bit as stored), pixel size and metadata.
        Large tiled TIFF levels are lazy: only the region read is decoded.

    Raises
    ------
    core.errors.MultipleScenes
        A CZI holds several scenes and ``scene`` is None.
    core.errors.RateScopeError
        The file is missing, empty, damaged, truncated, unsupported or absurdly large.

    Examples
    --------
    >>> m = load_mosaic("resources/samples/sample_mosaic.czi")  # doctest: +SKIP
    >>> m.shape, m.pixel_size_um, m.pixel_size_source            # doctest: +SKIP
    ((975, 6300), 0.123, 'metadata')
    """
    fmt = detect_format(path)
    path = Path(path)
    if fmt == "CZI":
        from ratescope.core.io.czi import read_czi

        return read_czi(path, scene, pixel_size_um, channel)
    _check_single_scene(path, scene)
    if channel != 0:
        raise RateScopeError(f"there is no channel {channel}; the file holds one image", path)
    if fmt == "ZVI":
        from ratescope.core.io.zvi import read_zvi

        return read_zvi(path, pixel_size_um)
    if fmt == "TIFF":
        from ratescope.core.io.tiff import read_tiff

        return read_tiff(path, pixel_size_um)
    from ratescope.core.io.raster import read_png_jpeg

    return read_png_jpeg(path, fmt, pixel_size_um)


def list_scenes(path: str | Path) -> list[str]:
    """Names of the scenes in ``path``: several for multi-scene CZIs, else one."""
    fmt = detect_format(path)
    if fmt == "CZI":
        from ratescope.core.io.czi import czi_scene_names

        return czi_scene_names(path)
    return [Path(path).stem]


def _check_single_scene(path: Path, scene: int | None) -> None:
    if scene not in (None, 0):
        raise RateScopeError(f"there is no scene {scene}; the file holds one image", path)
