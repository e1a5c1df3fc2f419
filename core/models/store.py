"""Model and state files without pickle: one ``.safetensors`` file, JSON in its metadata.

:func:`save_model` / :func:`load_model` store a :class:`~core.models.ratecnn.RateCNN`
(weights and normalisation buffers) with its model card. :func:`save_tree` /
:func:`load_tree` store any nest of dicts, lists, numbers, strings and tensors (optimiser
and RNG state for training checkpoints): tensors go into the safetensors body, the rest
into a JSON document in the header metadata. Nothing is ever unpickled, so a file that
holds pickled code (``torch.save`` of a module, a hostile ``__reduce__``) is refused
with :class:`~core.errors.RateScopeError` before any of it is interpreted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ratescope.core.atomic import atomic_path
from ratescope.core.errors import RateScopeError
from ratescope.core.models.ratecnn import RateCNN, RateCNNConfig

FORMAT = "ratescope.ratecnn/1"
"""Value of the ``format`` metadata key of a model file."""

TREE_FORMAT = "ratescope.tree/1"
"""Value of the ``format`` metadata key of a state (checkpoint) file."""

_PICKLE_HINT = {
    b"PK\x03\x04": "a zip archive (torch.save); it may contain pickled code",
    b"\x80\x02": "a Python pickle",
    b"\x80\x03": "a Python pickle",
    b"\x80\x04": "a Python pickle",
    b"\x80\x05": "a Python pickle",
}


def _open_checked(path: Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a safetensors file; return its tensors and its metadata (``format`` checked)."""
    if not path.is_file():
        raise RateScopeError("the file does not exist", path)
    with path.open("rb") as fh:
        head = fh.read(4)
    for magic, what in _PICKLE_HINT.items():
        if head.startswith(magic):
            raise RateScopeError(
                f"refused: the file is {what}, not a safetensors model; "
                "RateScope never loads pickled files",
                path,
            )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise RateScopeError(f"not a valid safetensors file ({exc})", path) from exc
    if meta.get("format") != expected_format:
        raise RateScopeError(
            f"not a RateScope {expected_format!r} file (format {meta.get('format')!r})", path
        )
    return tensors, meta


def save_model(path: str | Path, model: RateCNN, card: dict[str, Any]) -> Path:
    """Write ``model`` and its ``card`` to one safetensors file, atomically.

    Parameters
    ----------
    path : str or Path
        Target file (``.safetensors``).
    model : RateCNN
        The network; its normalisation buffers are saved with the weights.
    card : dict
        JSON-serialisable model card (unit, C-rates, training data, metrics ...). The
        architecture (``card["architecture"]``) and normalisation statistics
        (``card["normalisation"]``) are filled in from the model.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    card = dict(card)
    card["architecture"] = {"name": "RateCNN", **model.config.as_dict()}
    card["normalisation"] = {
        k: getattr(model, k).tolist()
        for k in ("input_mean", "input_std", "label_mean", "label_std")
    }
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "card": json.dumps(card, default=_json_default)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[RateCNN, dict]:
    """Read a model written by :func:`save_model`; returns ``(model in eval mode, card)``.

    Raises
    ------
    RateScopeError
        The file is missing, not safetensors (e.g. pickled), or not a RateScope model.
    """
    path = Path(path)
    tensors, meta = _open_checked(path, FORMAT)
    try:
        card = json.loads(meta["card"])
        arch = {k: v for k, v in card["architecture"].items() if k != "name"}
        model = RateCNN(RateCNNConfig.from_dict(arch))
        model.load_state_dict(tensors, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RateScopeError(f"the model file is inconsistent ({exc})", path) from exc
    model.eval()
    return model.to(device=device, memory_format=torch.channels_last), card


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, tensors), _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a state file")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_tree(path: str | Path, tree: Any) -> Path:
    """Write a nest of dicts/lists/tuples/scalars/strings/tensors atomically (no pickle).

    Dict keys may be strings or ints (optimiser state uses int keys); they round-trip.
    """
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    doc = _flatten(tree, tensors)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": TREE_FORMAT, "tree": json.dumps(doc)})
    return path


def load_tree(path: str | Path) -> Any:
    """Read a file written by :func:`save_tree`; pickled files are refused."""
    path = Path(path)
    tensors, meta = _open_checked(path, TREE_FORMAT)
    try:
        return _unflatten(json.loads(meta["tree"]), tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise RateScopeError(f"the state file is inconsistent ({exc})", path) from exc
