"""k-fold cross-validation: one model per fold, written with its model card.

Output folder layout (``out``)::

    <unit>_fold<i>.safetensors        model + card (core.models.store)
    <unit>_cv.json                    summary: per-fold and mean test metrics
    checkpoints/<unit>_fold<i>.ckpt.safetensors   resumable training state
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ratescope.core import __version__
from ratescope.core.atomic import atomic_path
from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.models.store import load_model, save_model
from ratescope.core.progress import ProgressFn, report
from ratescope.core.train import ddp
from ratescope.core.train.data import TileDataset, folds
from ratescope.core.train.loop import TrainConfig, TrainResult, train_model
from ratescope.core.train.metrics import predict, scores


def fold_path(out: str | Path, unit: str, fold: int) -> Path:
    """Model file of ``fold`` for ``unit`` inside ``out``."""
    return Path(out) / f"{unit}_fold{fold}.safetensors"


def thread_count() -> str:
    """``"1 thread"`` / ``"N threads"``: torch's CPU threads, for model cards."""
    n = torch.get_num_threads()
    return f"{n} thread{'s' if n != 1 else ''}"


def _hardware(device: str) -> str:
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {thread_count()}"


def checkpoint_path(out: str | Path, unit: str, fold: int) -> Path:
    """Resumable training state of ``fold`` for ``unit`` inside ``out``."""
    return Path(out) / "checkpoints" / f"{unit}_fold{fold}.ckpt.safetensors"


def write_fold(target: Path, res: TrainResult, data: TileDataset, i: int, k: int, split,
               cfg: TrainConfig, device: str = "cpu", command: str = "",
               card_extra: dict | None = None, normalised: bool = False,
               init: Path | None = None) -> dict:  # fmt: skip
    """Score ``res.model`` on the fold's train/val/test tiles and save it with its card.

    ``normalised``: ``data``'s tiles carry the model's input normalisation already;
    ``init``: the model file training started from (recorded in the card).
    Returns the fold's metrics (what the card's ``metrics`` holds).
    """
    tr, va, te = (data.subset(s) for s in (split.train, split.val, split.test))

    def score(ds: TileDataset) -> dict:
        return scores(predict(res.model, ds.tiles, normalised=normalised), ds.labels)

    metrics = {"fold": i, "train": score(tr), "val": score(va), "test": score(te)}
    if not ddp.is_main():
        return metrics
    card = {
        "model": "RateCNN (Deeg et al., Batteries 2024)",
        "unit": data.unit,
        "unit_symbol": UNITS[data.unit],
        "c_rates": list(C_RATES),
        "input": {
            "tile_shape": list(data.tiles.shape[1:3]),
            "channels": "RGB" if data.tiles.ndim == 4 else "gray replicated to 3",
            "dtype": str(data.tiles.dtype),
            "scale": "pixel / dtype max (uint8 255, uint16 65535)",
        },
        "data": {
            "source": data.source,
            "tiles": len(data),
            "samples": int(len(np.unique(data.groups))),
            "split": "group-wise (by sample)",
            "fold": i,
            "k": k,
            "train_samples": sorted(map(str, np.unique(tr.groups))),
            "val_samples": sorted(map(str, np.unique(va.groups))),
            "test_samples": sorted(map(str, np.unique(te.groups))),
        },
        "training": {
            **cfg.as_dict(),
            "steps_done": res.steps,
            "epochs": res.epochs,
            "best_step": res.best_step,
            "stopped_early": res.stopped_early,
            "init": f"{Path(init).parent.name}/{Path(init).name}" if init else None,
            "seconds": round(res.seconds, 1),
            "device": str(device),
            "hardware": _hardware(device),
            "world_size": ddp.world()[1],
            "history": res.history,
        },
        "metrics": metrics,
        "command": command,
        "software": {"ratescope": __version__, "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
        **(card_extra or {}),
    }
    save_model(target, res.model, card)
    return metrics


def cross_validate(
    data: TileDataset,
    out: str | Path,
    k: int = 5,
    config: TrainConfig | None = None,
    device: str = "cpu",
    resume: bool = False,
    command: str = "",
    card_extra: dict | None = None,
    progress: ProgressFn | None = None,
    only: list[int] | None = None,
    init: list[Path] | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> dict:
    """Train ``k`` models on group-wise folds of ``data`` and write them to ``out``.

    Parameters
    ----------
    data : TileDataset
        All tiles with labels and groups (samples).
    out : path
        Output folder (see module docstring).
    k : int
        Number of folds.
    config : TrainConfig, optional
        Training hyper-parameters (``config.seed`` also shuffles the folds).
    device : str
        ``"cpu"`` or ``"cuda"``.
    resume : bool
        Skip folds whose model file exists; continue a fold from its checkpoint.
    command : str
        The command line that reproduces the run, for the model card.
    card_extra : dict, optional
        More model-card entries (e.g. label source, synthetic-data provenance).
    progress : ProgressFn, optional
        Overall progress; may raise :class:`~core.errors.Cancelled`.
    only : list of int, optional
        Train just these folds (a CPU run advancing one fold at a time); the summary
        then covers the folds that have a model file.
    init : list of Path, optional
        Fold model files to fine-tune from (fold ``i`` starts from ``init[i % len]``).
    on_event : callable, optional
        Receives ``{"event": "step", "unit", "fold", ...}`` after every step and
        ``{"event": "fold", "unit", "fold", "metrics"}`` after every fold.

    Returns
    -------
    dict
        The summary also written to ``<unit>_cv.json``.
    """
    cfg = config or TrainConfig()
    out = Path(out)
    splits = folds(data.groups, k, cfg.seed)
    summary: dict = {"unit": data.unit, "k": k, "folds": []}
    for i, split in enumerate(splits):
        target = fold_path(out, data.unit, i)

        def sub(frac: float, msg: str, i: int = i) -> None:
            report(progress, (i + frac) / k, f"fold {i + 1}/{k}: {msg}")

        if only is not None and i not in only:
            if target.exists():
                summary["folds"].append(load_model(target)[1]["metrics"])
            continue
        if resume and target.exists():
            model, card = load_model(target)
            summary["folds"].append(card["metrics"])
            continue
        tr, va, te = (data.subset(s) for s in (split.train, split.val, split.test))
        ckpt = checkpoint_path(out, data.unit, i)
        start = init[i % len(init)] if init else None

        def step_event(d: dict, i: int = i) -> None:
            if on_event is not None and ddp.is_main():
                on_event({"event": "step", "unit": data.unit, "fold": i, **d})

        res = train_model(tr, va, cfg, device, checkpoint=ckpt, resume=resume, progress=sub,
                          init=start, on_step=step_event)  # fmt: skip
        summary["folds"].append(write_fold(target, res, data, i, k, split, cfg, device,
                                           command, card_extra, init=start))  # fmt: skip
        if on_event is not None and ddp.is_main():
            on_event({"event": "fold", "unit": data.unit, "fold": i,
                      "metrics": summary["folds"][-1]})  # fmt: skip
    tests = [f["test"] for f in summary["folds"]]
    if not tests:
        return summary
    summary["test_mape_mean"] = float(np.mean([t["mape"] for t in tests]))
    summary["test_mape_per_output_mean"] = np.mean(
        [t["mape_per_output"] for t in tests], axis=0
    ).tolist()
    summary["test_r2_mean"] = float(np.mean([t["r2"] for t in tests]))
    if ddp.is_main():
        with atomic_path(out / f"{data.unit}_cv.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
    report(progress, 1.0, f"done: mean test MAPE {summary['test_mape_mean']:.2f} %")
    return summary
