"""Background work and pure helpers of the training wizard (no Qt).

The review and the data set run on the window's runner (:mod:`gui.background`); the
training itself runs in a separate process whose command line :func:`train_arguments`
builds. torch is never imported here.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

INITS = ("embedded", "scratch")
DEVICES = ("auto", "cpu", "cuda")
DATASET_NAME = "dataset.h5"


@dataclass
class TrainSettings:
    """What the settings page chose.

    Attributes
    ----------
    name : str
        The model's name in the model manager.
    units : list of str
        ``"specific"`` and/or ``"volumetric"``.
    folds : int
        k of the k-fold cross-validation (split by electrode).
    init : str
        ``"embedded"`` (fine-tune the embedded ensemble) or ``"scratch"``.
    mode : str
        ``"head"`` (refit the dense heads on frozen features; with ``init="embedded"``
        only) or ``"full"`` (train every layer).
    steps : int
        Training steps per fold.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    seed : int
        Seed of the split, the augmentation and the initialisation.
    extra : list of str
        More command-line arguments (advanced use, tests).
    """

    name: str = "My electrodes"
    units: list[str] = field(default_factory=lambda: ["specific"])
    folds: int = 5
    init: str = "embedded"
    mode: str = "head"
    steps: int = 600
    device: str = "auto"
    seed: int = 0
    extra: list[str] = field(default_factory=list)


def review_job(folder: str | Path, csv: str | Path, progress=None):
    """Align every mosaic of ``folder`` and match it with ``csv``
    (:func:`core.train.mosaic_set.review_mosaics`)."""
    from ratescope.core.train.mosaic_set import review_mosaics

    return review_mosaics(Path(folder), Path(csv), progress=progress)


def dataset_job(review, path: str | Path, progress=None) -> Path:
    """Write the reviewed tiles and labels to ``path``
    (:func:`core.train.mosaic_set.write_dataset`)."""
    from ratescope.core.train.mosaic_set import write_dataset

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(write_dataset(review, Path(path), progress=progress))


def slug(name: str) -> str:
    """A folder name from a model name: ``"Lab A, 2026"`` -> ``"lab-a-2026"``."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s or "model"


def run_folder(root: str | Path, name: str) -> Path:
    """A new, unused folder for a training run of ``name`` under ``root``."""
    root = Path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{slug(name)}-{stamp}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def training_runs_root() -> Path:
    """Where the wizard's runs (data set, checkpoints, fold models) are written: beside the
    user models (:func:`core.models.registry.user_models_root`), in ``training-runs``."""
    from ratescope.core.models.registry import user_models_root

    return Path(user_models_root()).parent / "training-runs"


def train_arguments(
    dataset: str | Path, out: str | Path, settings: TrainSettings, resume: bool = False
) -> list[str]:
    """Arguments after ``sys.executable`` for the training process: ``-m ratescope train …``,
    or ``train …`` in a frozen bundle (its executable is RateScope's own launcher)."""
    prefix = [] if getattr(sys, "frozen", False) else ["-m", "ratescope"]
    args = [*prefix, "train", "--dataset", str(dataset), "--out", str(out)]
    if len(settings.units) == 1:  # else every unit the data set measured
        args += ["--unit", settings.units[0]]
    mode = settings.mode if settings.init == "embedded" else "full"
    args += [
        "--name", settings.name,
        "--folds", str(settings.folds),
        "--init", settings.init,
        "--mode", mode,
        "--steps", str(settings.steps),
        "--device", settings.device,
        "--seed", str(settings.seed),
        "--progress-jsonl",
    ]  # fmt: skip
    if resume:
        args.append("--resume")
    return args + list(settings.extra)


def register_job(out: str | Path, name: str):
    """Register a finished run's folder in the model registry; the new
    :class:`core.models.registry.ModelEntry`."""
    from ratescope.core.models.registry import Registry

    return Registry().add(Path(out), name)
