"""A training set from a folder of mosaics and a CSV of measured capacities.

:func:`review_mosaics` pairs every mosaic with its electrode's CSV rows
(:mod:`core.train.measured`), aligns it automatically (or takes the confirmed alignment
of a saved session found beside it) and reports per file: status, tiles kept, angle and
reasons. :func:`write_dataset` writes the kept tiles with their labels to one HDF5 file
that :func:`load_dataset` reads back per unit (``main.py train --dataset``).

Pairing: a CSV name matches a mosaic whose file name it equals, with or without the
extension (``P30-a`` or ``P30-a.czi``), or whose stem starts with it followed by ``_``,
``-``, ``.`` or a space (``P30-a_overview.tif``); the longest matching name wins. Several
mosaics may belong to one electrode (their tiles share its group, so cross-validation never
splits them). CSV rows that match no mosaic are listed in :attr:`Review.unmatched`.

Sessions: a ``.ratescope`` file in the folder whose source is the mosaic (same file name
and, when recorded, the same SHA-256) and whose alignment was accepted gives the tiles
exactly as the user confirmed them (:attr:`ReviewRow.from_session`).

Data set file (HDF5, format ``ratescope-dataset``, version 1)::

    /tiles                  (N, 224, 672, 3) uint8 model images
    /groups                 (N,) electrode name of each tile
    /files                  (N,) mosaic file name of each tile
    /labels/<unit>          (N, 5) at C_RATES, NaN where not measured / no row in the unit
    attrs: format, version, created, source, measured_csv, review (JSON: the review table)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.progress import ProgressFn, report
from ratescope.core.train.data import TileDataset
from ratescope.core.train.measured import MeasuredRow, read_measured_csv

MOSAIC_SUFFIXES = (".czi", ".zvi", ".tif", ".tiff", ".btf", ".png", ".jpg", ".jpeg")
SESSION_SUFFIX = ".ratescope"
FORMAT = "ratescope-dataset"
VERSION = 1


@dataclass
class ReviewRow:
    """One mosaic of the folder as the review found it.

    Attributes
    ----------
    path : Path
    name : str
        The electrode (the matching CSV name; the file stem when none matches).
    status : str
        ``"ok"``, ``"failed"`` (unreadable, no collector, no tile kept) or
        ``"no measurement"`` (no CSV row).
    tiles_kept : int
    angle_deg : float or None
        Rotation that makes the collector horizontal.
    reasons : list of str
        Why it failed, which tiles were rejected, which C-rates were not measured, and
        whether a session's alignment was used.
    from_session : bool
        The tiles come from a saved session's confirmed alignment.
    measured : MeasuredRow or None
        The electrode's row (Ah/kg preferred when both units are given).
    units : dict of str to MeasuredRow
        The electrode's rows per unit.
    include : bool
        Whether :func:`write_dataset` uses it (a reviewer may untick an ``ok`` row).
    tiles : ndarray or None
        The kept tiles (N, 224, 672, 3) uint8 (not shown).
    """

    path: Path
    name: str
    status: str
    tiles_kept: int = 0
    angle_deg: float | None = None
    reasons: list[str] = field(default_factory=list)
    from_session: bool = False
    measured: MeasuredRow | None = None
    units: dict[str, MeasuredRow] = field(default_factory=dict)
    include: bool = True
    tiles: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The row as JSON-ready values (no tiles)."""
        return {"file": self.path.name, "name": self.name, "status": self.status,
                "tiles_kept": self.tiles_kept, "angle_deg": self.angle_deg,
                "reasons": list(self.reasons), "from_session": self.from_session,
                "units": sorted(self.units), "include": self.include}  # fmt: skip


@dataclass
class Review:
    """The review of a folder: one row per mosaic, CSV rows without a mosaic, problems.

    Attributes
    ----------
    rows : list of ReviewRow
    unmatched : list of MeasuredRow
        CSV rows no mosaic matched (each names its CSV line).
    problems : list of str
        Folder-level problems in words (e.g. a session that could not be read).
    folder, csv : Path
    """

    rows: list[ReviewRow]
    unmatched: list[MeasuredRow]
    problems: list[str] = field(default_factory=list)
    folder: Path | None = None
    csv: Path | None = None

    @property
    def usable(self) -> list[ReviewRow]:
        """Rows that go into the data set (status ok and included)."""
        return [r for r in self.rows if r.status == "ok" and r.include]

    def summary(self) -> str:
        """One line: electrodes, tiles, failures, unmatched CSV rows."""
        use = self.usable
        failed = sum(r.status == "failed" for r in self.rows)
        nomeas = sum(r.status == "no measurement" for r in self.rows)
        return (f"{len({r.name for r in use})} electrodes, {sum(r.tiles_kept for r in use)} "
                f"tiles from {len(use)} mosaics; {failed} failed, {nomeas} without a "
                f"measurement, {len(self.unmatched)} CSV rows without a mosaic")  # fmt: skip

    def unmatched_messages(self) -> list[str]:
        """``"line 7: 'P45-c' matches no mosaic in the folder"`` per unmatched row."""
        return [
            f"line {r.line}: {r.name!r} matches no mosaic in the folder" for r in self.unmatched
        ]


def mosaic_files(folder: str | Path) -> list[Path]:
    """Mosaic files directly inside ``folder`` (by suffix), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RateScopeError("the mosaic folder does not exist", folder)
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in MOSAIC_SUFFIXES
                  and not p.name.startswith("."))  # fmt: skip


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def match_name(path: Path, names: list[str]) -> str | None:
    """The CSV name ``path`` belongs to (see the module docstring), None if none."""
    stem = _stem(path)
    hits = [n for n in names
            if n == path.name or n == stem
            or any(stem.startswith(n + sep) for sep in ("_", "-", ".", " "))]  # fmt: skip
    return max(hits, key=len) if hits else None


def _check_cancel(cancel) -> None:
    if cancel is None:
        return
    stop = cancel.is_set() if hasattr(cancel, "is_set") else cancel()
    if stop:
        raise Cancelled()


def _sessions(folder: Path, problems: list[str]) -> dict[str, list]:
    """Saved sessions of the folder by their source's file name (accepted ones only)."""
    from ratescope.core.session import load_session

    out: dict[str, list] = {}
    for p in sorted(folder.glob(f"*{SESSION_SUFFIX}")):
        try:
            s = load_session(p)
        except RateScopeError as exc:
            problems.append(f"{p.name}: not used ({exc.reason})")
            continue
        if s.source_path is not None and s.alignment is not None and s.accepted:
            out.setdefault(Path(s.source_path).name, []).append((p, s))
    return out


def _from_session(path: Path, candidates: list, mosaic):
    from ratescope.core.session import file_sha256

    digest = None
    for session_path, s in candidates:
        if s.source_sha256:
            digest = digest or file_sha256(path)
            if digest != s.source_sha256:
                continue
        if tuple(s.alignment.image_shape[:2]) != (mosaic.height, mosaic.width):
            continue
        return session_path, s.alignment
    return None


def _align_one(path: Path, row: ReviewRow, sessions: dict, progress: ProgressFn | None) -> None:
    from ratescope.core.align.band import align_mosaic, extract_working_tiles, working_image
    from ratescope.core.io import load_mosaic

    mosaic = load_mosaic(path)
    found = _from_session(path, sessions.get(path.name, []), mosaic)
    if found is not None:
        session_path, alignment = found
        working = working_image(mosaic, alignment.collector, alignment.surface)
        row.from_session = True
        row.reasons.append(f"confirmed alignment of {session_path.name} used")
    else:
        alignment, working = align_mosaic(mosaic, progress=progress)
    tiles = extract_working_tiles(working, alignment)
    row.angle_deg = float(alignment.angle_deg)
    row.tiles_kept = len(tiles)
    row.tiles = tiles
    rejected: dict[str, int] = {}
    for t in alignment.tiles:
        if not t.kept:
            key = t.reason or "turned off by the user"
            rejected[key] = rejected.get(key, 0) + 1
    if rejected:
        row.reasons.append("rejected tiles: " + ", ".join(f"{n} {k}" for k, n in rejected.items()))
    if not len(tiles):
        row.status = "failed"
        row.reasons.insert(0, "no 224 x 672 tile kept")


def review_mosaics(
    folder: str | Path,
    csv: str | Path,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Review:
    """Pair, align and judge every mosaic of ``folder`` against the measured ``csv``.

    Parameters
    ----------
    folder : path
        Folder of mosaics (any format :func:`core.io.load_mosaic` reads).
    csv : path
        Measured capacities (:func:`core.train.measured.read_measured_csv`).
    progress : ProgressFn, optional
        May raise :class:`~core.errors.Cancelled`.
    cancel : callable or threading.Event, optional
        Checked between files; true -> :class:`~core.errors.Cancelled`.

    Returns
    -------
    Review
        A file that cannot be read or aligned is a ``"failed"`` row with the reason,
        never an exception.

    Raises
    ------
    RateScopeError
        The CSV is invalid (naming its line), or the folder holds no mosaic.
    """
    folder, csv = Path(folder), Path(csv)
    rows_csv = read_measured_csv(csv)
    files = mosaic_files(folder)
    if not files:
        raise RateScopeError("no mosaic (CZI, ZVI, TIFF, PNG, JPEG) in the folder", folder)
    names = sorted({r.name for r in rows_csv})
    problems: list[str] = []
    sessions = _sessions(folder, problems)
    used: set[str] = set()
    out: list[ReviewRow] = []
    for i, path in enumerate(files):
        _check_cancel(cancel)
        report(progress, i / len(files), f"{i + 1}/{len(files)} {path.name}")
        name = match_name(path, names)
        if name is None:
            out.append(ReviewRow(path, _stem(path), "no measurement",
                                 reasons=["no row of the CSV names this file"]))  # fmt: skip
            continue
        used.add(name)
        units = {r.unit: r for r in rows_csv if r.name == name}
        measured = units.get("specific") or next(iter(units.values()))
        row = ReviewRow(path, name, "ok", measured=measured, units=units)

        def sub(frac: float, msg: str, i: int = i, path: Path = path) -> None:
            _check_cancel(cancel)
            report(progress, (i + frac) / len(files), f"{i + 1}/{len(files)} {path.name}: {msg}")

        try:
            _align_one(path, row, sessions, sub)
        except Cancelled:
            raise
        except RateScopeError as exc:
            row.status, row.reasons = "failed", [exc.reason]
        except (ValueError, MemoryError, OSError) as exc:
            row.status, row.reasons = "failed", [f"{type(exc).__name__}: {exc}"]
        for unit, r in units.items():
            if r.missing():
                rates = ", ".join(f"{c:g}C" for c in r.missing())
                row.reasons.append(f"not measured ({UNITS[unit]}, CSV line {r.line}): {rates}")
        out.append(row)
    report(progress, 1.0, "review done")
    unmatched = [r for r in rows_csv if r.name not in used]
    return Review(out, unmatched, problems, folder, csv)


def write_dataset(
    review: Review,
    path_h5: str | Path,
    progress: ProgressFn | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Path:
    """Write the usable rows' tiles, labels per unit and electrode groups (HDF5, atomic).

    Raises
    ------
    RateScopeError
        No usable mosaic, or fewer than 3 electrodes (cross-validation needs them).
    """
    import h5py

    from ratescope.core.atomic import atomic_path

    path_h5 = Path(path_h5)
    use = [r for r in review.usable if r.tiles is not None and len(r.tiles)]
    electrodes = {r.name for r in use}
    if len(electrodes) < 3:
        raise RateScopeError(
            f"only {len(electrodes)} electrode(s) with tiles and a measurement; training "
            "needs at least 3 (cross-validation holds whole electrodes out)",
            review.csv,
        )
    n = sum(len(r.tiles) for r in use)
    units = [u for u in UNITS if any(u in r.units for r in use)]
    with atomic_path(path_h5) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(format=FORMAT, version=VERSION, created=time.strftime("%Y-%m-%d %H:%M:%S"),
                       source=str(review.folder or ""),
                       measured_csv=str(review.csv.name if review.csv else ""),
                       review=json.dumps([r.to_dict() for r in review.rows]))  # fmt: skip
        tiles = f.create_dataset("tiles", (n, *use[0].tiles.shape[1:]), np.uint8,
                                 chunks=(1, *use[0].tiles.shape[1:]))  # fmt: skip
        groups, files = [], []
        labels = {u: np.full((n, len(C_RATES)), np.nan, np.float32) for u in units}
        at = 0
        for i, r in enumerate(use):
            _check_cancel(cancel)
            report(progress, i / len(use), f"writing {r.path.name}")
            k = len(r.tiles)
            tiles[at : at + k] = r.tiles
            groups += [r.name] * k
            files += [r.path.name] * k
            for u, m in r.units.items():
                labels[u][at : at + k] = np.asarray(m.as_array(), np.float32)
            at += k
        strings = h5py.string_dtype()
        f.create_dataset("groups", data=np.array(groups, dtype=object), dtype=strings)
        f.create_dataset("files", data=np.array(files, dtype=object), dtype=strings)
        for u, arr in labels.items():
            f.create_dataset(f"labels/{u}", data=arr)
    report(progress, 1.0, f"{n} tiles of {len(electrodes)} electrodes written")
    return path_h5


def dataset_units(path_h5: str | Path) -> list[str]:
    """The units a data set file has labels for."""
    import h5py

    path_h5 = Path(path_h5)
    with _open(path_h5, h5py) as f:
        return [u for u in UNITS if u in f.get("labels", {})]


def _open(path: Path, h5py):
    from ratescope.core.session import check_hdf5

    if not path.is_file():
        raise RateScopeError("the data set file does not exist", path)
    check_hdf5(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RateScopeError(f"not a readable HDF5 file ({exc})", path) from exc
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise RateScopeError("not a RateScope data set (no 'ratescope-dataset' mark)", path)
    return f


def load_dataset(path_h5: str | Path, unit: str) -> TileDataset:
    """The tiles with labels in ``unit`` (tiles of electrodes without them are left out).

    Raises
    ------
    RateScopeError
        Not a data set file, or no label in ``unit``.
    """
    import h5py

    path_h5 = Path(path_h5)
    if unit not in UNITS:
        raise RateScopeError(f"unknown unit {unit!r}; use one of {sorted(UNITS)}")
    with _open(path_h5, h5py) as f:
        if f"labels/{unit}" not in f:
            raise RateScopeError(f"the data set has no capacities in {UNITS[unit]}", path_h5)
        labels = f[f"labels/{unit}"][()]
        keep = np.flatnonzero(~np.isnan(labels).all(axis=1))
        if not len(keep):
            raise RateScopeError(f"the data set has no capacities in {UNITS[unit]}", path_h5)
        tiles = f["tiles"][()][keep] if len(keep) < len(labels) else f["tiles"][()]
        groups = np.array([g.decode() if isinstance(g, bytes) else str(g)
                           for g in f["groups"][()]])[keep]  # fmt: skip
        source = f"{len(np.unique(groups))} lab electrodes ({f.attrs.get('measured_csv', '')})"
    return TileDataset(tiles, labels[keep], groups, unit=unit, source=source)
