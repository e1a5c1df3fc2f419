"""Training and evaluating the embedded ensemble on the synthetic data set.

:func:`train_embedded` runs :func:`core.train.cv.cross_validate` (the same loop as
``python main.py train --synthetic``) for one unit. On CUDA it keeps the augmentation and
the uint8 -> float conversion on the GPU (:func:`gpu_tiles`): the loop's arithmetic is
unchanged, only where the tiles are converted moves, which removes the CPU bottleneck of
``grid_sample`` on the host.

:func:`evaluate_embedded` predicts the held-out test electrodes (never used for training
or model selection) with every fold model and collects the pooled features of the
training pool and the test set for the out-of-distribution statistics.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ratescope.core.progress import ProgressFn, report
from ratescope.core.train.synthetic.dataset import (
    DEFAULT_CACHE,
    LABEL_SD,
    SOURCE,
    build_training_set,
)


def _to_tensor_on(device: torch.device):
    def convert(tiles) -> torch.Tensor:
        a = np.ascontiguousarray(np.asarray(tiles))
        if a.ndim == 2:
            a = a[None]
        t = torch.from_numpy(a).to(device, non_blocking=True)
        if t.ndim == 3:
            t = t[..., None].expand(*t.shape, 3)
        if a.dtype == np.uint16:  # as core.models.ratecnn.tiles_to_tensor
            t = torch.from_numpy(a.astype(np.int32)).to(device)
        scale = {np.dtype(np.uint8): 1 / 255.0, np.dtype(np.uint16): 1 / 65535.0}.get(a.dtype, 1.0)
        x = t.permute(0, 3, 1, 2).to(torch.float32).mul_(scale)
        return x.contiguous(memory_format=torch.channels_last)

    return convert


@contextlib.contextmanager
def gpu_tiles(device: str | torch.device) -> Iterator[None]:
    """Convert tiles on ``device`` inside the training loop and the metrics.

    Within the block ``tiles_to_tensor`` of :mod:`core.train.loop` and
    :mod:`core.train.metrics` return tensors on ``device`` (so the augmentation runs there
    too), the input statistics are summed there and ``cross_validate`` scores its models
    there. Everything is restored on exit. A no-op for CPU devices.
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        yield
        return
    from ratescope.core.train import cv, loop, metrics

    convert = _to_tensor_on(dev)
    saved = (loop.tiles_to_tensor, metrics.tiles_to_tensor, loop._normalisation, cv.predict)

    def normalisation(model, ds, chunk: int = 64) -> None:
        s = torch.zeros(3, dtype=torch.float64, device=dev)
        s2 = torch.zeros_like(s)
        count = 0
        for i in range(0, len(ds), chunk):
            x = convert(ds.tiles[i : i + chunk]).double()
            s += x.sum(dim=(0, 2, 3))
            s2 += (x * x).sum(dim=(0, 2, 3))
            count += x.numel() // 3
        mean = (s / count).cpu()
        std = (s2.cpu() / count - mean * mean).clamp_min(0).sqrt()
        labels = ds.labels.astype(np.float64)
        model.set_normalisation(mean.numpy(), std.numpy(), labels.mean(0), labels.std(0))

    def predict_there(model, tiles, device="cpu", batch=16, **kw):
        try:
            return saved[3](model.to(dev), tiles, dev, 64, **kw)
        finally:
            model.cpu()

    loop.tiles_to_tensor = metrics.tiles_to_tensor = convert
    loop._normalisation, cv.predict = normalisation, predict_there
    try:
        yield
    finally:
        loop.tiles_to_tensor, metrics.tiles_to_tensor, loop._normalisation, cv.predict = saved


def train_embedded(unit: str, out: str | Path, *, steps: int = 5000, batch: int = 38, k: int = 5,
                   device: str = "cpu", cache: str | Path = DEFAULT_CACHE,
                   resume: bool = True, command: str = "", precision: str = "fp32",
                   photometric: float = 0.0,
                   only: list[int] | None = None,
                   progress: ProgressFn | None = None, head: str = "monotone",
                   input_norm: str = "phases", init: list[Path] | None = None,
                   lr_max: float = 1e-3) -> dict:  # fmt: skip
    """Cross-validate ``k`` RateCNNs for ``unit`` on the synthetic pool into ``out``.

    ``head`` and ``input_norm`` default to the embedded models' (monotone head, phase
    front end); ``head="paper", input_norm="none"`` is the paper's network.

    ``precision="bf16"`` runs the forward pass under bfloat16 autocast (about 2x faster on
    CPUs with AMX); ``only`` trains a subset of the folds. ``init`` fine-tunes every layer
    from these fold model files (fold ``i`` starts from ``init[i % len(init)]``), usually
    with a lower ``lr_max``. Returns the cross-validation summary (see
    :func:`core.train.cv.cross_validate`).
    """
    from ratescope.core.models.ratecnn import RateCNNConfig
    from ratescope.core.train.cv import cross_validate
    from ratescope.core.train.loop import TrainConfig

    if str(device).startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    data = build_training_set(unit, cache=cache)
    cfg = TrainConfig(max_steps=steps, batch_size=batch, checkpoint_every=20, eval_batch=16,
                      precision=precision, photometric=photometric, lr_max=lr_max,
                      architecture=RateCNNConfig(head=head, input_norm=input_norm))  # fmt: skip
    with gpu_tiles(device):
        return cross_validate(data, out, k, cfg, device, resume, command, _card_extra(),
                              progress, only, init)  # fmt: skip


def _card_extra() -> dict:
    return {
        "synthetic": True,
        "label_source": (
            "DFN half-cell model (PyBaMM), resources/labels/dfn_rate_table.csv "
            "interpolated by core.labels; training labels with "
            f"{LABEL_SD:.0%} per-electrode scatter"
        ),  # fmt: skip
        "data_note": SOURCE,
        "input_convention": "core.model_input.to_model_image: RGB uint8 (gray replicated,"
        " 16-bit scaled by its significant bits), then / 255",
        "host": platform.node(),
    }


def snapshot_embedded(unit: str, run_dir: str | Path, out: str | Path, *, k: int = 5,
                      cache: str | Path = DEFAULT_CACHE, command: str = "",
                      only: list[int] | None = None, device: str = "cpu") -> list[int]:  # fmt: skip
    """Fold models in ``out`` from the checkpoints of an unfinished run in ``run_dir``.

    Each fold's best weights so far are scored (on ``device``; the tiles get the input
    normalisation once per unit, not once per fold and subset) and saved with a full card,
    whose ``in_progress`` entry says how far the run got; finished folds are copied as they
    are. ``only`` restricts it to those folds. Returns the folds written.
    """
    import shutil

    from ratescope.core.train.cv import checkpoint_path, fold_path, write_fold
    from ratescope.core.train.data import folds
    from ratescope.core.train.loop import normalised, result_from_checkpoint

    raw = build_training_set(unit, cache=cache)
    data = None  # raw under the run's input normalisation (one for all its folds)
    Path(out).mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(k) if only is None else only:
        final, ckpt = fold_path(run_dir, unit, i), checkpoint_path(run_dir, unit, i)
        if final.exists():
            shutil.copyfile(final, fold_path(out, unit, i))
        elif ckpt.exists():
            res, cfg = result_from_checkpoint(ckpt)
            if data is None:
                data = normalised(raw, cfg.architecture.input_norm)
            split = folds(raw.groups, k, cfg.seed)[i]
            note = (f"best weights (step {res.best_step}) after "
                    f"{res.steps} of {cfg.max_steps} steps; training continues")  # fmt: skip
            extra = {**_card_extra(), "in_progress": note}
            with gpu_tiles(device):
                write_fold(fold_path(out, unit, i), res, data, i, k, split, cfg, device,
                           command, extra, normalised=True, init=res.init)  # fmt: skip
        else:
            continue
        written.append(i)
    return written


def _normalised(tiles: np.ndarray, norm: str, cache: dict) -> np.ndarray:
    """``tiles`` under ``norm``, computed once per (array, norm) and kept in ``cache``."""
    key = (id(tiles), norm)
    if key not in cache:
        from ratescope.core.model_input import prepare_tiles
        from ratescope.core.predict.normalise import normalise_tiles

        cache[key] = tiles if norm == "none" else normalise_tiles(prepare_tiles(tiles), norm)
    return cache[key]


@torch.inference_mode()
def _run(model, tiles: np.ndarray, dev: torch.device, batch: int = 64, cache=None):
    """Predictions and pooled features; tiles get the model's input normalisation (once
    per tile set when ``cache`` is shared: the fold models of a unit share it)."""
    convert = _to_tensor_on(dev) if dev.type == "cuda" else None
    from ratescope.core.models.ratecnn import tiles_to_tensor

    tiles = _normalised(tiles, model.config.input_norm, {} if cache is None else cache)

    preds, feats = [], []
    for i in range(0, len(tiles), batch):
        x = convert(tiles[i : i + batch]) if convert else tiles_to_tensor(tiles[i : i + batch])
        f = model.features(x.to(dev))
        feats.append(f.float().cpu())
        preds.append(model.head(f).float().cpu())
    return torch.cat(preds).numpy(), torch.cat(feats).numpy()


def evaluate_embedded(models_dir: str | Path, out_file: str | Path, *,
                      device: str = "cpu", cache: str | Path = DEFAULT_CACHE,
                      max_pool_tiles: int = 400,
                      progress: ProgressFn | None = None) -> Path:  # fmt: skip
    """Predictions on the held-out electrodes and pooled features, saved as ``.npz``.

    Uses the fold models present in ``models_dir``. Keys per unit ``u``: ``{u}_folds``,
    ``{u}_test_pred`` (k, N_test, 5), ``{u}_test_label`` (N_test, 5, clean),
    ``{u}_test_feat`` (k, N_test, 96), ``{u}_train_feat`` (k, M, 96) on an evenly spaced
    subset of at most ``max_pool_tiles`` tiles of the training pool, ``{u}_train_label``
    (M, 5, clean); plus ``test_groups`` and ``train_groups`` (of the subset).
    """
    from ratescope.core.atomic import atomic_path
    from ratescope.core.models.store import load_model

    dev = torch.device(device)
    out: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    found = {u: sorted(Path(models_dir).glob(f"{u}_fold*.safetensors"))
             for u in ("specific", "volumetric")}  # fmt: skip
    total = max(1, sum(len(v) for v in found.values()))
    done = 0
    for unit, files in found.items():
        if not files:
            continue
        test = build_training_set(unit, cache=cache, split="test")
        pool = build_training_set(unit, cache=cache, split="train", noisy=False)
        pick = np.unique(np.linspace(0, len(pool) - 1, min(max_pool_tiles, len(pool))).astype(int))
        pool = pool.subset(pick)
        runs_test, runs_pool = [], []
        normalised: dict = {}
        for path in files:
            model, _ = load_model(path, dev)
            runs_test.append(_run(model, test.tiles, dev, cache=normalised))
            runs_pool.append(_run(model, pool.tiles, dev, cache=normalised)[1])
            done += 1
            report(progress, done / total, f"{path.name}")
        out[f"{unit}_folds"] = np.array([int(p.stem.rsplit("fold", 1)[1]) for p in files])
        out[f"{unit}_test_pred"] = np.stack([r[0] for r in runs_test])
        out[f"{unit}_test_feat"] = np.stack([r[1] for r in runs_test])
        out[f"{unit}_train_feat"] = np.stack(runs_pool)
        from ratescope.core.model_input import prepare_tiles
        from ratescope.core.predict.normalise import phase_stats

        out[f"{unit}_train_phase"] = np.array(
            [s.as_row() for s in phase_stats(prepare_tiles(pool.tiles))]
        )
        out[f"{unit}_test_label"] = test.labels
        out[f"{unit}_train_label"] = pool.labels
        out["test_groups"], out["train_groups"] = test.groups, pool.groups
    out["seconds"] = np.array(time.perf_counter() - t0)
    with atomic_path(out_file) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **out)
    return Path(out_file)
