"""Saved sessions: one HDF5 file (``.ratescope``) per piece of work, never pickled.

Layout (one group per step, ilastik style; every array a dataset, every fact an attribute)::

    /                 attrs format="ratescope-session", version, software, saved
    /source           attrs path, sha256, size, format, pixel_size_um, scene
    /alignment        attrs json (core.align.Alignment.to_json)
    /tiles            datasets rect (N, 4), auto_keep, kept, override (-1 none, 0, 1), reason
    /prediction       attrs complete, model (which models), physics (JSON: the measured
                      microstructure);
                      /prediction/<unit>: mean, std, ... datasets
    /maps/<i>         dataset map (+ tile_image); attrs method, unit, c_rate, tile
    /measured/<unit>  dataset (5,) at C_RATES, NaN where not measured

:func:`save_session` writes atomically (temporary file, then rename), so an interrupted
save leaves the previous file as it was. :func:`check_source` tells whether the source
file is still where it was and unchanged (SHA-256 of its contents).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import h5py
import numpy as np

from ratescope.core import __version__
from ratescope.core.atomic import atomic_path
from ratescope.core.errors import RateScopeError
from ratescope.core.report.record import Explanation

FORMAT = "ratescope-session"
VERSION = 1
SUFFIX = ".ratescope"
_CHUNK = 1 << 20


@dataclass
class Session:
    """The state of one piece of work (any part may be missing).

    Attributes
    ----------
    source_path : Path or None
        The mosaic the work is about.
    source_sha256 : str or None
        SHA-256 of its contents when the session was saved.
    source_size : int or None
    source_format : str
    pixel_size_um : float or None
        The pixel size used (may be the user's).
    scene : int or None
    alignment : core.align.Alignment or None
        With the user's tile decisions (``Tile.override``).
    prediction : core.predict.Prediction or None
    maps : list of Explanation
    measured : dict of str to ndarray
        Measured capacities per unit at ``C_RATES`` (NaN = not measured).
    saved : str
        When it was saved (filled in by :func:`load_session`).
    accepted : bool
        Whether the alignment had been accepted (the prediction was made from it).
    view : tuple of float or None
        The mosaic view's visible rectangle ``(x0, y0, x1, y1)`` in mosaic pixels.
    """

    source_path: Path | None = None
    source_sha256: str | None = None
    source_size: int | None = None
    source_format: str = ""
    pixel_size_um: float | None = None
    scene: int | None = None
    alignment: object | None = None
    prediction: object | None = None
    maps: list[Explanation] = field(default_factory=list)
    measured: dict[str, np.ndarray] = field(default_factory=dict)
    saved: str = ""
    accepted: bool = False
    view: tuple[float, float, float, float] | None = None


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's contents, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _attrs(group: h5py.Group, **values) -> None:
    for k, v in values.items():
        if v is not None:
            group.attrs[k] = v


def _write(f: h5py.File, s: Session) -> None:
    f.attrs.update(format=FORMAT, version=VERSION, software=f"RateScope {__version__}",
                   saved=time.strftime("%Y-%m-%d %H:%M:%S"))  # fmt: skip
    src = f.create_group("source")
    _attrs(src, path=None if s.source_path is None else str(s.source_path),
           sha256=s.source_sha256, size=s.source_size, format=s.source_format,
           pixel_size_um=s.pixel_size_um, scene=s.scene)  # fmt: skip
    if s.view is not None:
        f.attrs["view"] = np.asarray(s.view, np.float64)
    if s.alignment is not None:
        f.create_group("alignment").attrs.update(json=s.alignment.to_json(),
                                                  accepted=bool(s.accepted))  # fmt: skip
        tiles = s.alignment.tiles
        g = f.create_group("tiles")
        g["rect"] = np.array([t.rect for t in tiles], np.int64).reshape(-1, 4)
        g["auto_keep"] = np.array([t.auto_keep for t in tiles], bool)
        g["kept"] = np.array([t.kept for t in tiles], bool)
        g["override"] = np.array([-1 if t.override is None else int(t.override) for t in tiles],
                                 np.int8)  # fmt: skip
        g["reason"] = np.array([t.reason or "" for t in tiles], dtype=h5py.string_dtype())
    if s.prediction is not None:
        g = f.create_group("prediction")
        g.attrs["complete"] = bool(s.prediction.complete)
        g.attrs["model"] = str(getattr(s.prediction, "model", ""))
        phys = getattr(s.prediction, "physics", None)
        if phys is not None:  # the measurement; the curves are re-read from the table
            g.attrs["physics"] = json.dumps({
                "micro": None if phys.micro is None else phys.micro.to_dict(),
                "notes": list(phys.notes)})  # fmt: skip
        for unit, up in s.prediction.units.items():
            u = g.create_group(unit)
            for fl in fields(up):
                v = getattr(up, fl.name)
                if isinstance(v, np.ndarray | tuple):
                    u.create_dataset(fl.name, data=np.asarray(v, np.float64))
                elif isinstance(v, list):  # words (the out-of-distribution reasons)
                    u.attrs[fl.name] = json.dumps([str(x) for x in v])
                elif v is not None:
                    u.attrs[fl.name] = v
    maps = f.create_group("maps")
    for i, ex in enumerate(s.maps):
        g = maps.create_group(str(i))
        g.create_dataset("map", data=np.asarray(ex.map, np.float32), compression="gzip")
        if ex.tile_image is not None:
            g.create_dataset("tile_image", data=np.asarray(ex.tile_image), compression="gzip")
        _attrs(g, method=ex.method, unit=ex.unit, c_rate=float(ex.c_rate), tile=int(ex.tile))
    meas = f.create_group("measured")
    for unit, vals in s.measured.items():
        meas.create_dataset(unit, data=np.asarray(vals, np.float64))


def save_session(session: Session, path: str | Path) -> Path:
    """Write ``session`` to ``path`` (HDF5) atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _write(f, session)
    return path


def _physics(d: dict):
    """The physics estimate of a saved measurement (curves re-read from the label table)."""
    from ratescope.core.measure import Microstructure, PhysicsEstimate, physics_estimate

    if not isinstance(d, dict) or not isinstance(d.get("micro"), dict):
        notes = d.get("notes", []) if isinstance(d, dict) else []
        return PhysicsEstimate(None, notes=[str(n) for n in notes])
    try:
        return physics_estimate(Microstructure.from_dict(d["micro"]))
    except (TypeError, ValueError):  # a damaged or foreign record: no cross-check
        return None


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _read(f: h5py.File) -> Session:
    from ratescope.core.align import Alignment
    from ratescope.core.predict import Prediction, UnitPrediction

    src = f["source"].attrs
    get = lambda k, t: t(src[k]) if k in src else None  # noqa: E731
    s = Session(source_path=get("path", lambda v: Path(_text(v))),
                source_sha256=get("sha256", _text),
                source_size=get("size", int), source_format=get("format", _text) or "",
                pixel_size_um=get("pixel_size_um", float), scene=get("scene", int),
                saved=_text(f.attrs.get("saved", "")))  # fmt: skip
    view = f.attrs.get("view")
    if view is not None and np.shape(view) == (4,) and np.all(np.isfinite(view)):
        s.view = tuple(float(v) for v in view)
    if "alignment" in f:
        s.alignment = Alignment.from_json(_text(f["alignment"].attrs["json"]))
        s.accepted = bool(f["alignment"].attrs.get("accepted", False))
        if "tiles" in f:  # the tile decisions are their own step: they win
            for t, o in zip(s.alignment.tiles, f["tiles/override"][()], strict=False):
                t.override = None if o < 0 else bool(o)
    if "prediction" in f:
        g = f["prediction"]
        units = {}
        for unit, u in g.items():
            kw = {k: np.asarray(v[()]) for k, v in u.items()}
            kw.update({k: v.item() if hasattr(v, "item") and np.size(v) == 1 else v
                       for k, v in u.attrs.items()})  # fmt: skip
            kw["c_rates"] = tuple(float(c) for c in kw["c_rates"])
            kw["unit"] = _text(kw["unit"])
            for k in ("n_tiles", "folds_done", "folds_total"):
                kw[k] = int(kw[k])
            kw["out_of_range"] = bool(kw.get("out_of_range", False))
            kw["ood_reasons"] = [str(r) for r in json.loads(_text(kw.get("ood_reasons", "[]")))]
            units[unit] = UnitPrediction(**kw)
        s.prediction = Prediction(units, bool(g.attrs.get("complete", True)),
                                  model=_text(g.attrs.get("model", "")))  # fmt: skip
        if "physics" in g.attrs:
            s.prediction.physics = _physics(json.loads(_text(g.attrs["physics"])))
    for key in sorted(f.get("maps", {}), key=int):
        g = f["maps"][key]
        s.maps.append(Explanation(_text(g.attrs["method"]), _text(g.attrs["unit"]),
                                  float(g.attrs["c_rate"]), int(g.attrs["tile"]), g["map"][()],
                                  g["tile_image"][()] if "tile_image" in g else None))  # fmt: skip
    s.measured = {u: d[()] for u, d in f.get("measured", {}).items()}
    return s


def load_session(path: str | Path) -> Session:
    """Read a session written by :func:`save_session`.

    Raises
    ------
    RateScopeError
        Missing, not HDF5, not a RateScope session, or damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise RateScopeError("the session file does not exist", path)
    check_hdf5(path)
    try:
        with h5py.File(path, "r") as f:
            if _text(f.attrs.get("format", "")) != FORMAT:
                raise RateScopeError("not a RateScope session (no 'format' mark)", path)
            if int(f.attrs.get("version", 0)) > VERSION:
                raise RateScopeError("the session was saved by a newer RateScope", path)
            declared = _declared_bytes(f)
            if declared > MAX_ARRAY_BYTES:
                raise RateScopeError(
                    f"the session declares {declared / 2**30:.1f} GiB of arrays, more than a "
                    f"session holds ({MAX_ARRAY_BYTES / 2**30:.0f} GiB): damaged or not ours",
                    path,
                )
            return _read(f)
    except RateScopeError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError, RuntimeError,
            UnicodeError, MemoryError, ArithmeticError, json.JSONDecodeError) as e:  # fmt: skip
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise RateScopeError(f"the session file is damaged or unreadable ({reason})", path) from e


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_hdf5(path: Path) -> None:
    """Refuse, before libhdf5 reads it, damage on which libhdf5 would never return.

    Found by ``tests/test_fuzz_readers.py``: libhdf5 (2.0, in h5py 3.16) loops forever
    in C, holding the GIL so that nothing in Python can stop it, when a global heap
    collection (where variable-length strings such as the session's attributes live)
    holds a free-space object of size 0: its parser never advances. Bytes inserted into a
    session shift such a collection onto other data. Two checks, on the raw bytes:

    - the file's length is the end-of-file address its superblock records (HDF5 cuts a
      file to it on closing, so a session written by :func:`save_session` or edited with
      h5py has exactly this length; libhdf5 itself only refuses a shorter file);
    - every global heap collection (``GCOL``) in the file can be walked object by
      object as libhdf5 walks it, each step moving forward.

    Files with a user block (superblock not at byte 0) or an unknown superblock version
    are left to libhdf5.

    Raises
    ------
    RateScopeError
        The length differs from the superblock's, or a heap collection would not parse.
    """
    import mmap

    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
            if not head.startswith(HDF5_SIGNATURE) or len(head) < 48:
                return  # not HDF5, or too short to tell: libhdf5 says so in its own words
            version = head[8]
            if version in (0, 1):  # base, free-space and end-of-file addresses after 24 (+4)
                offsets, lengths, base_at = head[13], head[14], 24 if version == 0 else 28
            elif version in (2, 3):  # base, superblock extension and end-of-file after 12
                offsets, lengths, base_at = head[9], head[10], 12
            else:
                return
            eof_at = base_at + 2 * offsets
            if offsets not in (2, 4, 8) or lengths not in (2, 4, 8) or len(head) < eof_at + 8:
                return
            base = int.from_bytes(head[base_at : base_at + offsets], "little")
            eof = int.from_bytes(head[eof_at : eof_at + offsets], "little")
            if base == 0 and eof != size:
                raise RateScopeError(
                    f"the session file is damaged: it is {size} bytes long where its HDF5 "
                    f"header says {eof} (bytes were inserted, removed or cut off)",
                    path,
                )
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                at = data.find(b"GCOL")
                while at >= 0:
                    if not _heap_collection_parses(data, at, lengths):
                        raise RateScopeError(
                            f"the session file is damaged: its global heap at byte {at} is corrupt",
                            path,
                        )
                    at = data.find(b"GCOL", at + 4)
    except OSError as e:
        raise RateScopeError(f"the session file cannot be read ({e.strerror or e})", path) from e


def _heap_collection_parses(data, at: int, lengths: int) -> bool:
    """Whether libhdf5's walk over the global heap collection at ``at`` ends (True also
    when libhdf5 would refuse it by itself: wrong version, or beyond the end of the file)."""
    header = 8 + lengths  # "GCOL", version, 3 reserved bytes, collection size
    if at + header > len(data) or data[at + 4] != 1:
        return True
    end = int.from_bytes(data[at + 8 : at + header], "little")
    if at + end > len(data):
        return True  # libhdf5 fails to read it
    p, object_header = header, 8 + lengths  # index, references, 4 reserved, size
    while p < end:
        if p + object_header > end:
            break  # the tail is free space: libhdf5 jumps to the end
        index = int.from_bytes(data[at + p : at + p + 2], "little")
        nbytes = int.from_bytes(data[at + p + 8 : at + p + object_header], "little")
        need = object_header + -(-nbytes // 8) * 8 if index else nbytes
        if need == 0 or need >= 2**63:  # no progress, or a pointer that wraps round
            return False
        p += need
    return True


MAX_ARRAY_BYTES = 2**30
"""A session's arrays (maps, tiles, curves) are megabytes; a file that declares more than
this is refused before anything is read (a 2 MB file can declare a 40 000² float map)."""


def _declared_bytes(f: h5py.File) -> int:
    """Bytes that reading every dataset of ``f`` would allocate (from the headers alone)."""
    total = 0

    def add(_name, obj) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += int(np.prod(obj.shape, dtype=np.float64)) * obj.dtype.itemsize

    f.visititems(add)
    return total


@dataclass
class SourceCheck:
    """Whether a session's source file is usable: ``status`` "ok", "missing" or "changed"."""

    status: str
    path: Path | None
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_source(session: Session, path: str | Path | None = None) -> SourceCheck:
    """Check the source file (or ``path``, where the user located it) against the hash.

    A file with the same contents elsewhere is "ok"; a missing one "missing"; one whose
    SHA-256 differs "changed".
    """
    p = Path(path) if path is not None else session.source_path
    if p is None:
        return SourceCheck("missing", None, "the session names no source file")
    if not p.is_file():
        return SourceCheck("missing", p, f"{p.name}: the source file is no longer at {p}")
    if session.source_sha256 and file_sha256(p) != session.source_sha256:
        return SourceCheck("changed", p, f"{p.name}: the file has changed since the session "
                           "was saved (its contents differ)")  # fmt: skip
    return SourceCheck("ok", p, "")


def source_facts(path: str | Path) -> dict:
    """``source_path``, ``source_sha256`` and ``source_size`` of a file, for :class:`Session`."""
    p = Path(path).resolve()
    return {"source_path": p, "source_sha256": file_sha256(p), "source_size": p.stat().st_size}
