"""The models a user can predict with: the embedded ensemble and the lab's own.

User models live in :func:`user_models_root` (``$RATESCOPE_MODELS_DIR``, else
``$XDG_DATA_HOME/ratescope/models``, else ``~/.local/share/ratescope/models``), one folder
per model::

    <root>/<id>/<unit>_fold<i>.safetensors   fold models (core.models.store, card inside)
    <root>/<id>/<unit>_ood.safetensors       optional out-of-distribution statistics
    <root>/<id>/card.json                    the model's card (see below)
    <root>/active.json                       {"id": ...}: the model predictions use

``card.json`` (written by ``main.py train --mosaics``/``--dataset``, built from the fold
cards when missing) holds at least ``name``, ``created``, ``units`` and per unit
``units[u]``: ``data`` (source, electrodes, tiles), ``split`` (words), ``folds`` and
``held_out`` (the lab's held-out electrodes: ``mape`` of this model and
``embedded_mape`` of the embedded ensemble on the same electrodes, when measured).

A model package (:meth:`Registry.export`, ``.rsmodel``) is one zip file holding the
safetensors files, ``card.json`` and ``manifest.json`` (``format``, SHA-256 and size of
every other member). :meth:`Registry.import_package` refuses, with a
:class:`~core.errors.RateScopeError` saying what is wrong, any package whose member
names are not plain expected names (no folders, no ``..``), whose hashes disagree with
its manifest, whose safetensors files are not RateScope models (pickle is never read),
or whose card is not a JSON object agreeing with the files. No Qt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ratescope.core.atomic import atomic_path
from ratescope.core.constants import UNITS
from ratescope.core.errors import RateScopeError

EMBEDDED_ID = "embedded"
PACKAGE_FORMAT = "ratescope.model-package/1"
PACKAGE_SUFFIX = ".rsmodel"
CARD = "card.json"
MANIFEST = "manifest.json"
MAX_PACKAGE_BYTES = 512 * 1024**2
"""Most bytes a package may unpack to (a real one is a few MB per unit)."""

_MEMBER = re.compile(r"^(?P<unit>[a-z]+)_(fold(?P<fold>\d{1,2})|ood)\.safetensors$")
_ID = re.compile(r"[^a-z0-9_-]+")


def user_models_root() -> Path:
    """Folder of the user's models (see the module docstring); not created here."""
    env = os.environ.get("RATESCOPE_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "ratescope" / "models"


def embedded_dir() -> Path:
    """Folder of the embedded ensemble (``resources/models``)."""
    from ratescope.core.resources import MODELS

    return Path(MODELS)


@dataclass
class ModelEntry:
    """One model a user can choose.

    Attributes
    ----------
    id : str
        ``"embedded"`` or the folder name under the registry root.
    name : str
        Human name.
    path : Path
        Folder holding the fold models (what ``load_ensemble`` takes).
    embedded : bool
    card : dict
        The model's card (``card.json``; see the module docstring).
    units : list of str
        Units with fold models.
    created : str
        ``YYYY-MM-DD HH:MM:SS`` (the embedded models: their training date).
    """

    id: str
    name: str
    path: Path
    embedded: bool
    card: dict = field(default_factory=dict)
    units: list[str] = field(default_factory=list)
    created: str = ""


def model_files(folder: Path) -> list[Path]:
    """The RateCNN fold and OOD files of a models folder, sorted."""
    return sorted(p for p in Path(folder).glob("*.safetensors") if _MEMBER.match(p.name))


def _units(folder: Path) -> list[str]:
    found = {m["unit"] for p in model_files(folder) if (m := _MEMBER.match(p.name)) and m["fold"]}
    return [u for u in UNITS if u in found]


def card_from_folds(folder: Path) -> dict:
    """A card for a models folder without ``card.json``, from its fold models' cards."""
    card: dict = {"units": {}}
    for unit in _units(folder):
        folds = sorted(folder.glob(f"{unit}_fold*.safetensors"))
        first = _fold_card(folds[0])
        data = first.get("data", {})
        tests = [_fold_card(p).get("metrics", {}).get("test", {}) for p in folds]
        mapes = [t["mape"] for t in tests if isinstance(t.get("mape"), int | float)]
        card["units"][unit] = {
            "data": {k: data[k] for k in ("source", "tiles", "samples") if k in data},
            "split": data.get("split", ""),
            "folds": len(folds),
            "held_out": {"mape": sum(mapes) / len(mapes)} if mapes else {},
            "date": first.get("date", ""),
        }
        card.setdefault("created", first.get("date", ""))
    return card


def _fold_card(path: Path) -> dict:
    """The card in a fold model's safetensors metadata (tensors not read)."""
    from safetensors import SafetensorError, safe_open

    from ratescope.core.models.store import FORMAT

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        card = json.loads(meta["card"])
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise RateScopeError(f"not a RateScope model file ({exc})", path) from exc
    return card if isinstance(card, dict) else {}


def _read_card(folder: Path) -> dict:
    p = folder / CARD
    if p.is_file():
        try:
            card = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RateScopeError(f"the model card is not readable JSON ({exc})", p) from exc
        if not isinstance(card, dict):
            raise RateScopeError("the model card is not a JSON object", p)
        return card
    return card_from_folds(folder)


def _slug(name: str) -> str:
    return _ID.sub("-", name.strip().lower()).strip("-")[:40] or "model"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Registry:
    """The embedded model plus the user models under ``root`` (default
    :func:`user_models_root`).

    Examples
    --------
    >>> reg = Registry()                                  # doctest: +SKIP
    >>> entry = reg.add("runs/mylab", "Lab A, 30 electrodes")  # doctest: +SKIP
    >>> reg.activate(entry.id)                            # doctest: +SKIP
    >>> load_ensemble(reg.active().path)                  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else user_models_root()

    # listing ------------------------------------------------------------------------
    def embedded(self) -> ModelEntry:
        """The embedded ensemble's entry."""
        path = embedded_dir()
        try:
            card = card_from_folds(path)
        except RateScopeError:
            card = {"units": {}}
        card.setdefault("name", "Embedded (synthetic electrodes)")
        card.setdefault("data", "synthetic mosaics with DFN (PyBaMM) labels")
        return ModelEntry(EMBEDDED_ID, card["name"], path, True, card, _units(path),
                          str(card.get("created", "")))  # fmt: skip

    def _entry(self, folder: Path) -> ModelEntry:
        card = _read_card(folder)
        return ModelEntry(folder.name, str(card.get("name") or folder.name), folder, False, card,
                          _units(folder), str(card.get("created", "")))  # fmt: skip

    def entries(self) -> list[ModelEntry]:
        """Every model, the embedded one first, then the user's by creation date.

        A user folder whose card cannot be read is skipped (it shows up nowhere rather
        than breaking the list); :meth:`get` on it raises.
        """
        out = [self.embedded()]
        users = []
        if self.root.is_dir():
            for d in sorted(self.root.iterdir()):
                if d.is_dir() and not d.name.startswith(".") and _units(d):
                    try:
                        users.append(self._entry(d))
                    except RateScopeError:
                        continue
        return out + sorted(users, key=lambda e: (e.created, e.id))

    def get(self, id: str) -> ModelEntry:
        """The entry named ``id``; RateScopeError when there is none."""
        if id == EMBEDDED_ID:
            return self.embedded()
        folder = self.root / id
        if "/" in id or "\\" in id or id in ("", ".", "..") or not folder.is_dir():
            raise RateScopeError(f"no model {id!r} in the model folder", self.root)
        if not _units(folder):
            raise RateScopeError(f"model {id!r} holds no fold model", folder)
        return self._entry(folder)

    # the active model ----------------------------------------------------------------
    @property
    def _active_file(self) -> Path:
        return self.root / "active.json"

    def active(self) -> ModelEntry:
        """The model predictions use (the embedded one unless another was activated and
        still exists)."""
        try:
            chosen = json.loads(self._active_file.read_text(encoding="utf-8"))["id"]
            return self.get(str(chosen))
        except (OSError, ValueError, KeyError, TypeError, RateScopeError):
            return self.embedded()

    def activate(self, id: str) -> ModelEntry:
        """Make ``id`` the active model (persisted in ``root/active.json``)."""
        entry = self.get(id)
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._active_file) as tmp:
            tmp.write_text(json.dumps({"id": entry.id}) + "\n", encoding="utf-8")
        return entry

    def delete(self, id: str) -> None:
        """Remove a user model (the embedded one is refused); the active one falls back
        to the embedded model."""
        if id == EMBEDDED_ID:
            raise RateScopeError("the embedded model cannot be deleted")
        entry = self.get(id)
        was_active = self.active().id == entry.id
        shutil.rmtree(entry.path)
        if was_active:
            self._active_file.unlink(missing_ok=True)

    # adding --------------------------------------------------------------------------
    def _new_id(self, name: str) -> str:
        base = _slug(name)
        self.root.mkdir(parents=True, exist_ok=True)
        i, cand = 1, base
        while (self.root / cand).exists() or cand == EMBEDDED_ID:
            i += 1
            cand = f"{base}-{i}"
        return cand

    def add(self, folder: str | Path, name: str | None = None) -> ModelEntry:
        """Register a trained output folder (``main.py train --out``) under ``name``.

        The fold models, OOD statistics and the card are copied (checkpoints and logs are
        not); every fold model is checked as an import is.
        """
        folder = Path(folder)
        files = model_files(folder)
        if not _units(folder):
            raise RateScopeError("no fold model (<unit>_fold<i>.safetensors) in the folder", folder)
        card = _read_card(folder)
        card["name"] = name or card.get("name") or folder.name
        card.setdefault("created", time.strftime("%Y-%m-%d %H:%M:%S"))
        return self._install(files, card)

    def _install(self, files: list[Path], card: dict) -> ModelEntry:
        from ratescope.core.predict.ensemble import load_ensemble

        target = self.root / self._new_id(str(card["name"]))
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=self.root))
        try:
            for p in files:
                shutil.copy2(p, tmp / p.name)
            (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
            load_ensemble(tmp, units=tuple(_units(tmp)))  # every file a RateScope model
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._entry(target)

    # packages ------------------------------------------------------------------------
    def export(self, id: str, path: str | Path) -> Path:
        """Write model ``id`` as one package file (zip: safetensors + card + manifest)."""
        entry = self.get(id)
        path = Path(path)
        files = model_files(entry.path)
        card = dict(entry.card)
        card.setdefault("name", entry.name)
        card_bytes = (json.dumps(card, indent=2) + "\n").encode()
        manifest = {
            "format": PACKAGE_FORMAT,
            "name": entry.name,
            "exported": time.strftime("%Y-%m-%d %H:%M:%S"),
            "files": {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in files},
        }
        manifest["files"][CARD] = {
            "sha256": hashlib.sha256(card_bytes).hexdigest(),
            "bytes": len(card_bytes),
        }
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
                z.writestr(CARD, card_bytes)
                for p in files:
                    z.write(p, p.name)
        return path

    def import_package(self, path: str | Path) -> ModelEntry:
        """Validate a package written by :meth:`export` and add it as a user model.

        Raises
        ------
        RateScopeError
            Not a zip; a member with a folder, ``..`` or an unexpected name; no or a bad
            manifest; a hash or size that disagrees; a file that is not a RateScope
            safetensors model (pickled files are refused unread); a card that is not a
            JSON object or names other units than the files. The message names the
            package and what is wrong.
        """
        path = Path(path)
        if not path.is_file():
            raise RateScopeError("the package does not exist", path)
        try:
            z = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise RateScopeError(f"not a RateScope model package (not a zip: {exc})", path) from exc
        with z, tempfile.TemporaryDirectory() as work:
            files, card = _unpack(z, Path(work), path)
            return self._install(files, card)


def _unpack(z: zipfile.ZipFile, work: Path, path: Path) -> tuple[list[Path], dict]:
    infos = z.infolist()
    names = [i.filename for i in infos]
    for n in names:
        if "/" in n or "\\" in n or n.startswith(".") or ".." in n or ":" in n:
            raise RateScopeError(
                f"refused: member {n!r} has a folder or path in its name (a package holds "
                "plain file names only)",
                path,
            )
        if n not in (CARD, MANIFEST) and not _MEMBER.match(n):
            raise RateScopeError(
                f"refused: unexpected member {n!r} (a package holds only <unit>_fold<i>."
                "safetensors, <unit>_ood.safetensors, card.json and manifest.json)",
                path,
            )
    if len(set(names)) != len(names):
        raise RateScopeError("refused: a member name appears twice", path)
    if MANIFEST not in names or CARD not in names:
        raise RateScopeError("refused: no manifest.json or card.json in the package", path)
    if sum(i.file_size for i in infos) > MAX_PACKAGE_BYTES:
        raise RateScopeError("refused: the package unpacks to more than 512 MB", path)
    try:
        manifest = json.loads(z.read(MANIFEST))
    except (ValueError, zipfile.BadZipFile) as exc:
        raise RateScopeError(f"refused: manifest.json is not valid JSON ({exc})", path) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
        raise RateScopeError(f"refused: not a {PACKAGE_FORMAT} manifest", path)
    listed = manifest.get("files")
    members = set(names) - {MANIFEST}
    if not isinstance(listed, dict) or set(listed) != members:
        extra = sorted(members - set(listed or {}))
        lacking = sorted(set(listed or {}) - members)
        raise RateScopeError(
            f"refused: the manifest does not list the package's files (not listed: {extra}, "
            f"listed but missing: {lacking})",
            path,
        )
    out: list[Path] = []
    card: dict | None = None
    for name in sorted(members):
        try:
            data = z.read(name)
        except (zipfile.BadZipFile, OSError) as exc:
            raise RateScopeError(f"refused: member {name} is damaged ({exc})", path) from exc
        want = listed[name] if isinstance(listed[name], dict) else {}
        if hashlib.sha256(data).hexdigest() != want.get("sha256"):
            raise RateScopeError(
                f"refused: {name} does not match its SHA-256 in the manifest (the package "
                "was changed or damaged after export)",
                path,
            )
        if name == CARD:
            try:
                card = json.loads(data)
            except ValueError as exc:
                raise RateScopeError(f"refused: card.json is not valid JSON ({exc})", path) from exc
            continue
        target = work / name
        target.write_bytes(data)
        _check_model_file(target, path)
        out.append(target)
    if not isinstance(card, dict):
        raise RateScopeError("refused: card.json is not a JSON object", path)
    units = _units(work)
    if not units:
        raise RateScopeError("refused: the package holds no fold model", path)
    named = card.get("units")
    if isinstance(named, dict) and named and sorted(named) != sorted(units):
        raise RateScopeError(
            f"refused: the card names units {sorted(named)} but the files hold {units}", path
        )
    if not str(card.get("name", "")).strip():
        card["name"] = path.stem
    return out, card


def _check_model_file(target: Path, package: Path) -> None:
    from ratescope.core.models.store import load_model, load_tree

    try:
        if target.name.endswith("_ood.safetensors"):
            load_tree(target)
        else:
            load_model(target)
    except RateScopeError as exc:
        raise RateScopeError(f"refused: {target.name}: {exc.reason}", package) from exc


def describe(models_dir: str | Path | None) -> str:
    """A human name for a models folder, for reports: ``"Embedded (synthetic
    electrodes)"``, ``"Lab A (user model lab-a, 2026-12-04)"`` or the folder's name."""
    if models_dir is None:
        return Registry().embedded().name
    folder = Path(models_dir)
    try:
        if folder.resolve() == embedded_dir().resolve():
            return Registry().embedded().name
    except OSError:
        pass
    card_file = folder / CARD
    if card_file.is_file():
        try:
            card = json.loads(card_file.read_text(encoding="utf-8"))
            name = str(card.get("name") or folder.name)
            created = str(card.get("created", ""))[:10]
            return f"{name} (user model {folder.name}" + (f", {created})" if created else ")")
        except (OSError, ValueError, AttributeError):
            pass
    return f"models in {folder.name}"
