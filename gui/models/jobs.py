"""Background work of the model manager (no Qt): listing, import, export, delete,
activate — each may read model files (and import torch to check them)."""

from __future__ import annotations

from pathlib import Path


def registry(root: str | Path | None = None):
    """The :class:`core.models.registry.Registry` of ``root`` (default: the user's)."""
    from ratescope.core.models.registry import Registry

    return Registry(root)


def list_job(root=None) -> tuple[list, str]:
    """Every model entry (embedded first) and the active model's id."""
    reg = registry(root)
    return reg.entries(), reg.active().id


def import_job(root, path: str | Path):
    """Validate and add a package (refusals raise RateScopeError); the new entry."""
    return registry(root).import_package(Path(path))


def export_job(root, model_id: str, path: str | Path) -> Path:
    """Write model ``model_id`` as one package file."""
    return registry(root).export(model_id, Path(path))


def delete_job(root, model_id: str) -> None:
    registry(root).delete(model_id)


def active_user_folder(root=None) -> Path | None:
    """The active model's folder when it is a user model, else None — cheap: it reads
    ``active.json`` and the model's card only (no safetensors, no torch)."""
    reg = registry(root)
    if not (reg.root / "active.json").is_file():
        return None
    entry = reg.active()
    return None if entry.embedded else entry.path


def fold_units(folder: str | Path) -> tuple[str, ...]:
    """The units with fold models in ``folder`` (a lab's model may hold only Ah/kg)."""
    from ratescope.core.constants import UNITS

    folder = Path(folder)
    return tuple(u for u in UNITS if any(folder.glob(f"{u}_fold*.safetensors")))


def load_ensemble(folder: str | Path):
    """The ensemble of ``folder`` for every unit it holds (both for the embedded models;
    :func:`core.predict.load_ensemble` raises for a folder without any)."""
    from ratescope.core.predict import load_ensemble as load

    units = fold_units(folder)
    return load(folder, units=units) if units else load(folder)
