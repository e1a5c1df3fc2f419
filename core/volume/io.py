"""Open tomography volumes lazily: multi-page TIFF, an HDF5 dataset, a folder of slices.

:func:`open_volume` returns a :class:`VolumeSource` that reads slices and boxes on demand
(h5py dataset slicing; a ``numpy.memmap`` for uncompressed contiguous TIFF, otherwise one
TIFF page per slice; one file per slice for folders), so volumes larger than memory can be
browsed and reconstructed window by window. Axes are always ``[z, y, x]``.

Voxel size (µm, ``(z, y, x)``) comes from the metadata or is ``None`` (the caller asks):
OME ``PhysicalSizeX/Y/Z``, ImageJ resolution + ``spacing``, TIFF resolution tags, HDF5
attributes such as ``element_size_um`` (see :mod:`core.volume.voxel_size`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.volume.phases import PhaseMap, Scaling
from ratescope.core.volume.voxel_size import hdf5_voxel, tiff_voxel

SLICE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}
TIFF_SUFFIXES = {".tif", ".tiff"}
HDF5_SUFFIXES = {".h5", ".hdf5", ".hdf", ".he5", ".nxs"}
MAX_LABEL = 15
"""Integer volumes whose sampled values are all in 0..MAX_LABEL are taken as label volumes."""


class MultipleDatasets(RateScopeError):
    """The HDF5 file holds several 3D datasets; the caller must pick one (``dataset=``)."""

    def __init__(self, path: str | Path, names: list[str]):
        self.names = list(names)
        super().__init__(
            f"the file holds {len(names)} volumes ({', '.join(names)}); choose one", path
        )


@dataclass
class VolumeSource:
    """A volume read on demand.

    Attributes
    ----------
    path : Path
        File or folder.
    dataset : str or None
        HDF5 dataset name.
    shape : tuple of int
        ``(z, y, x)`` voxels.
    dtype : numpy.dtype
        Voxel type.
    voxel_size_um : tuple of float or None
        ``(z, y, x)`` voxel edges in µm, None when the file does not say.
    format : str
        ``"tiff"``, ``"hdf5"`` or ``"folder"``.
    """

    path: Path
    dataset: str | None
    shape: tuple[int, int, int]
    dtype: np.dtype
    voxel_size_um: tuple[float, float, float] | None
    format: str
    _array: object = None  # anything sliceable [z, y, x] (h5py dataset, memmap)
    _pages: list | None = None  # per-slice readers (TIFF pages / files)
    _handle: object = None

    def read_box(self, z0: int, z1: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Voxels ``[z0:z1, y0:y1, x0:x1]`` (clipped to the volume) as a new array."""
        z0, z1 = max(z0, 0), min(z1, self.shape[0])
        try:
            if self._array is not None:
                return np.array(self._array[z0:z1, y0:y1, x0:x1])
            planes = [np.asarray(self._pages[k]())[y0:y1, x0:x1] for k in range(z0, z1)]
        except RateScopeError:
            raise
        except Exception as exc:  # decoder/IO errors of any reader library
            raise RateScopeError(f"could not read slices {z0}-{z1 - 1} ({exc})", self.path) from exc
        if not planes:
            return np.zeros((0, *self.shape[1:]), self.dtype)[:, y0:y1, x0:x1]
        return np.stack(planes)

    def read(self, z0: int, z1: int) -> np.ndarray:
        """Whole slices ``[z0:z1]``."""
        return self.read_box(z0, z1, 0, self.shape[1], 0, self.shape[2])

    def slice(self, k: int) -> np.ndarray:
        """Slice ``k`` as ``[y, x]``."""
        if not 0 <= k < self.shape[0]:
            raise IndexError(f"slice {k} outside 0..{self.shape[0] - 1}")
        return self.read(k, k + 1)[0]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def close(self) -> None:
        """Release the file handle (the source cannot read afterwards)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> VolumeSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def hdf5_datasets(path: str | Path) -> list[tuple[str, tuple, str]]:
    """``(name, shape, dtype)`` of every dataset with 3 dimensions in an HDF5 file."""
    import h5py

    found: list[tuple[str, tuple, str]] = []
    try:
        with h5py.File(path, "r") as f:
            f.visititems(
                lambda n, o: (
                    found.append((n, o.shape, str(o.dtype)))
                    if isinstance(o, h5py.Dataset) and o.ndim == 3
                    else None
                )
            )
    except OSError as exc:
        raise RateScopeError(f"not a readable HDF5 file ({exc})", path) from exc
    return found


def _open_hdf5(path: Path, dataset: str | None) -> VolumeSource:
    import h5py

    names = [n for n, _, _ in hdf5_datasets(path)]
    if dataset is None:
        if not names:
            raise RateScopeError("the file holds no 3D dataset", path)
        if len(names) > 1:
            raise MultipleDatasets(path, names)
        dataset = names[0]
    f = h5py.File(path, "r")
    if dataset not in f or not isinstance(f[dataset], h5py.Dataset) or f[dataset].ndim != 3:
        f.close()
        raise RateScopeError(f"no 3D dataset named '{dataset}' (found: {', '.join(names)})", path)
    ds = f[dataset]
    return VolumeSource(
        path, dataset, tuple(ds.shape), ds.dtype, hdf5_voxel(ds), "hdf5", _array=ds, _handle=f
    )


def _open_tiff(path: Path) -> VolumeSource:
    import tifffile

    try:
        tf = tifffile.TiffFile(path)
    except Exception as exc:
        raise RateScopeError(f"not a readable TIFF file ({exc})", path) from exc
    tf.filehandle.set_lock(True)  # pages may be read from a worker and the GUI thread
    series = tf.series[0]
    shape = tuple(int(s) for s in series.shape if s != 1) or (1,)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or (series.ndim == 4 and series.shape[-1] in (3, 4)):
        tf.close()
        raise RateScopeError(
            f"expected a single-channel 3D stack, found shape {series.shape}", path
        )
    voxel = tiff_voxel(tf)
    if series.dataoffset is not None:  # uncompressed, contiguous: memory-map
        arr = tifffile.memmap(path, series=0, mode="r").reshape(shape)
        return VolumeSource(path, None, shape, arr.dtype, voxel, "tiff", _array=arr, _handle=tf)
    pages = list(series.pages)
    if len(pages) != shape[0]:
        tf.close()
        raise RateScopeError(f"{len(pages)} pages for {shape[0]} slices: unsupported layout", path)
    readers = [(lambda p=p: p.asarray().reshape(shape[1:])) for p in pages]
    return VolumeSource(path, None, shape, series.dtype, voxel, "tiff", _pages=readers, _handle=tf)


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def _read_image(p: Path) -> np.ndarray:
    """One slice through the app's one image reader (TIFF, PNG, JPEG ...)."""
    from ratescope.core.io import load_mosaic

    img = np.asarray(load_mosaic(p, pixel_size_um=1.0).image)
    if img.ndim == 3 and img.shape[-1] in (3, 4):
        img = img[..., :3].mean(axis=-1).astype(img.dtype)
    if img.ndim != 2:
        raise RateScopeError(f"a slice must be a 2D image, found shape {img.shape}", p)
    return img


def _open_folder(path: Path) -> VolumeSource:
    files = sorted(
        (p for p in path.iterdir() if p.suffix.lower() in SLICE_SUFFIXES and p.is_file()),
        key=_natural_key,
    )
    if not files:
        raise RateScopeError("the folder holds no slice images (TIFF, PNG, JPEG, BMP)", path)
    try:
        first = _read_image(files[0])
    except RateScopeError:
        raise
    except Exception as exc:
        raise RateScopeError(f"not a readable image ({exc})", files[0]) from exc
    shape = (len(files), *first.shape)
    voxel = None
    if files[0].suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        with tifffile.TiffFile(files[0]) as tf:
            voxel = tiff_voxel(tf)

    def reader(p: Path):
        def fn():
            img = _read_image(p)
            if img.shape != first.shape:
                raise RateScopeError(f"slice is {img.shape}, the first slice {first.shape}", p)
            return img

        return fn

    return VolumeSource(
        path, None, shape, first.dtype, voxel, "folder", _pages=[reader(p) for p in files]
    )


def open_volume(path: str | Path, dataset: str | None = None) -> VolumeSource:
    """Open a volume for lazy reading.

    Parameters
    ----------
    path : str or Path
        Multi-page TIFF, HDF5 file, or a folder of slice images (sorted by natural order).
    dataset : str, optional
        HDF5 dataset; required when the file holds more than one 3D dataset.

    Returns
    -------
    VolumeSource

    Raises
    ------
    MultipleDatasets
        The HDF5 file holds several 3D datasets and ``dataset`` is None (``.names``).
    core.errors.RateScopeError
        Missing, empty, unsupported or unreadable file, naming the file.
    """
    path = Path(path)
    if path.is_dir():
        return _open_folder(path)
    if not path.exists():
        raise RateScopeError("the file does not exist", path)
    if path.stat().st_size == 0:
        raise RateScopeError("the file is empty (0 bytes)", path)
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return _open_hdf5(path, dataset)
    if suffix in TIFF_SUFFIXES:
        return _open_tiff(path)
    raise RateScopeError(f"unsupported volume format '{suffix}' (TIFF, HDF5 or a folder)", path)


def sample_slices(source: VolumeSource, n: int = 8) -> list[int]:
    """Up to ``n`` slice indices spread evenly over the volume."""
    return sorted({int(round(k)) for k in np.linspace(0, source.shape[0] - 1, n)})


def guess_kind(source: VolumeSource) -> str:
    """``"labels"`` for integer volumes whose sampled values are all in 0..15, else
    ``"grayscale"``."""
    if np.dtype(source.dtype).kind == "b":
        return "labels"
    if np.dtype(source.dtype).kind not in "ui":
        return "grayscale"
    for k in sample_slices(source):
        s = source.slice(k)
        if s.size and (s.min() < 0 or s.max() > MAX_LABEL):
            return "grayscale"
    return "labels"


def scaling_for(
    source: VolumeSource, kind: str | None = None, phases: PhaseMap | None = None
) -> Scaling:
    """The CAE input scaling of a volume: phase levels for labels, the sampled grey range
    (min..max over up to 8 slices) for grayscale."""
    kind = kind or guess_kind(source)
    if kind == "labels":
        return Scaling("labels", phases or PhaseMap())
    lo, hi = np.inf, -np.inf
    for k in sample_slices(source):
        s = source.slice(k)
        lo, hi = min(lo, float(s.min())), max(hi, float(s.max()))
    return Scaling("grayscale", lo=lo, hi=hi if hi > lo else lo + 1.0)
