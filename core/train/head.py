"""Refit a RateCNN's dense head on frozen convolutional features.

The convolutional blocks of a trained RateCNN turn a (normalised) tile into 96 pooled
features; everything after that — the 128-feature dense layer, the four hidden layers and
the output — is small (22 k parameters) and trains in seconds on a CPU from features
computed once. This is how the embedded models were moved to a new input normalisation
and to the monotone head without the days of CPU a full retraining takes
(``scripts/retrain_heads.py``); a full retraining on a GPU trains the convolutions on the
same data as well (``scripts/device_recipe.py``).

No Qt; torch only for the head.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, replace

import numpy as np
import torch

from ratescope.core.models.ratecnn import RateCNN, tiles_to_tensor
from ratescope.core.predict.normalise import normalise_tiles
from ratescope.core.progress import ProgressFn, report
from ratescope.core.train.metrics import electrode_mape


@dataclass(frozen=True)
class HeadConfig:
    """Optimisation of a head refit (MAPE loss as the paper; Adam with weight decay)."""

    head: str = "monotone"
    steps: int = 3000
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    eval_every: int = 100
    patience: int = 10
    seed: int = 0


def conv_fingerprint(model: RateCNN) -> str:
    """What a model's pooled features depend on, hashed: the convolutional blocks' weights
    and batch-norm statistics and the input standardisation (16 hex digits). Features
    computed once for head refits are stamped with it, so that they are never paired with
    another model's convolutions."""
    h = hashlib.sha256()
    state = model.state_dict()
    for name in sorted(state):
        if name.startswith(("block", "input_")) and state[name].is_floating_point():
            h.update(name.encode())
            h.update(state[name].detach().to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.inference_mode()
def pooled_features(
    models: list[RateCNN],
    tiles: np.ndarray,
    norm: str,
    progress: ProgressFn | None = None,
    batch: int = 4,
) -> np.ndarray:
    """Pooled features (k, N, 96) of uint8 RGB ``tiles`` after ``norm``, one row per model."""
    x = normalise_tiles(tiles, norm)
    out = np.zeros((len(models), len(x), models[0].config.filters[-1]), np.float32)
    total = len(models) * len(x)
    for m, model in enumerate(models):
        model.eval()
        for i in range(0, len(x), batch):
            t = tiles_to_tensor(x[i : i + batch])
            out[m, i : i + len(t)] = model.features(t).float().numpy()
            report(progress, (m * len(x) + i + len(t)) / total, f"features {m + 1}/{len(models)}")
    return out


def _mape(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (torch.abs(pred - y) / y.abs().clamp_min(1e-6)).mean() * 100


def fit_head(
    model: RateCNN,
    feats: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    val: np.ndarray,
    norm: str,
    cfg: HeadConfig = HeadConfig(),
) -> tuple[RateCNN, dict]:
    """A copy of ``model`` whose head is retrained on ``feats`` (N, 96) -> ``labels`` (N, 5).

    ``val`` (bool, N) marks the rows used only for early stopping (whole electrodes, by
    ``groups``); the rest train. The copy's config records ``cfg.head`` and ``norm``; its
    label statistics are the training rows'. The convolutions are not touched.

    Returns the new model (eval mode) and a log (steps, best step, validation MAPE by
    electrode).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 22 k-parameter MLP: threads only add synchronisation
    try:
        return _fit(model, feats, labels, groups, val, norm, cfg)
    finally:
        torch.set_num_threads(threads)


def _fit(model, feats, labels, groups, val, norm, cfg):
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    new = copy.deepcopy(model)
    new.config = replace(model.config, head=cfg.head, input_norm=norm)
    tr = ~val
    y = np.asarray(labels, np.float32)
    new.set_normalisation(model.input_mean, model.input_std, y[tr].mean(0), y[tr].std(0))
    torch.nn.init.zeros_(new.output.weight)
    torch.nn.init.zeros_(new.output.bias)
    params = list(new.regressor.parameters()) + list(new.output.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    ftr, ytr = torch.from_numpy(feats[tr]), torch.from_numpy(y[tr])
    fva = torch.from_numpy(feats[val])
    best, best_state, best_step, bad = np.inf, None, 0, 0
    log: dict = {"val_mape": []}
    for step in range(1, cfg.steps + 1):
        new.regressor.train()
        idx = torch.from_numpy(rng.integers(0, len(ftr), min(cfg.batch, len(ftr))))
        loss = _mape(new.head(ftr[idx]), ytr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            new.eval()
            with torch.no_grad():
                pv = new.head(fva).numpy()
            score = electrode_mape(pv, y[val], groups[val])
            log["val_mape"].append([step, round(score, 4)])
            if score < best - 1e-4:
                best, best_step, bad = score, step, 0
                best_state = copy.deepcopy(new.state_dict())
            else:
                bad += 1
                if bad >= cfg.patience:
                    break
    if best_state is not None:
        new.load_state_dict(best_state)
    new.eval()
    log.update(steps=step, best_step=best_step, best_val_mape=round(best, 4))
    return new, log


@torch.inference_mode()
def head_predict(model: RateCNN, feats: np.ndarray) -> np.ndarray:
    """Capacities (N, 5) from pooled features (N, 96)."""
    model.eval()
    return model.head(torch.from_numpy(np.asarray(feats, np.float32))).numpy()
