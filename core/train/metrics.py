"""Predicting a tile set in batches and scoring it (MAPE per C-rate, R²)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.models.precision import inference_autocast
from core.models.ratecnn import tiles_to_tensor


@torch.inference_mode()
def predict(
    model: nn.Module, tiles: np.ndarray, device: str | torch.device = "cpu", batch: int = 16
) -> np.ndarray:
    """Capacities (N, 5) for ``tiles`` (N, H, W[, 3]) with ``model`` in eval mode.

    The model's train/eval mode is restored afterwards. Runs with the prediction path's
    precision (:mod:`core.models.precision`: bf16 autocast on AMX CPUs).
    """
    was_training = model.training
    model.eval()
    try:
        with inference_autocast(device):
            out = [
                model(tiles_to_tensor(tiles[i : i + batch]).to(device)).float().cpu()
                for i in range(0, len(tiles), batch)
            ]
    finally:
        model.train(was_training)
    return torch.cat(out).numpy()


def scores(pred: np.ndarray, target: np.ndarray) -> dict:
    """MAPE (percent) overall and per output, and R² over all outputs and per output."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    ape = 100.0 * np.abs(pred - target) / np.abs(target)
    res = ((pred - target) ** 2).sum(axis=0)
    tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_each = np.where(tot > 0, 1.0 - res / tot, np.nan)
    tot_all = ((target - target.mean()) ** 2).sum()
    return {
        "mape": float(ape.mean()),
        "mape_per_output": ape.mean(axis=0).tolist(),
        "r2": float(1.0 - res.sum() / tot_all) if tot_all > 0 else float("nan"),
        "r2_per_output": r2_each.tolist(),
        "n": int(len(target)),
    }
