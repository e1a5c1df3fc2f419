"""Predicting a tile set in batches and scoring it (MAPE per C-rate, R²)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from ratescope.core.models.precision import inference_autocast
from ratescope.core.models.ratecnn import tiles_to_tensor


@torch.inference_mode()
def predict(
    model: nn.Module,
    tiles: np.ndarray,
    device: str | torch.device = "cpu",
    batch: int = 16,
    *,
    normalised: bool = False,
) -> np.ndarray:
    """Capacities (N, 5) for ``tiles`` (N, H, W[, 3]) with ``model`` in eval mode.

    The model's train/eval mode is restored afterwards; tiles get the model's input
    normalisation (``model.config.input_norm``) unless ``normalised`` says they carry it
    already (the training loop's validation tiles, normalised once per run). Runs with
    the prediction path's precision (:mod:`core.models.precision`: bf16 autocast on AMX CPUs).
    """
    was_training = model.training
    model.eval()
    norm = getattr(getattr(model, "config", None), "input_norm", "none")
    if norm != "none" and len(tiles) and not normalised:
        from ratescope.core.model_input import prepare_tiles
        from ratescope.core.predict.normalise import normalise_tiles

        tiles = normalise_tiles(prepare_tiles(tiles), norm)
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
    """MAPE (percent) overall and per output, and R² over all outputs and per output.

    NaN targets (not measured) are left out of every figure.
    """
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if np.isnan(target).any():
        return _masked_scores(pred, target)
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


def _masked_scores(pred: np.ndarray, target: np.ndarray) -> dict:
    m = ~np.isnan(target)
    ape = np.where(
        m, 100.0 * np.abs(pred - np.where(m, target, 1)) / np.abs(np.where(m, target, 1)), np.nan
    )
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        col_mean = np.nanmean(target, axis=0)
        res = np.nansum((pred - target) ** 2, axis=0)
        tot = np.nansum((target - col_mean) ** 2, axis=0)
        r2_each = np.where(tot > 0, 1.0 - res / tot, np.nan)
        tot_all = np.nansum((target - np.nanmean(target)) ** 2)
        per_output = np.nanmean(ape, axis=0)
    return {
        "mape": float(np.nanmean(ape)),
        "mape_per_output": per_output.tolist(),
        "r2": float(1.0 - res.sum() / tot_all) if tot_all > 0 else float("nan"),
        "r2_per_output": r2_each.tolist(),
        "n": int(len(target)),
        "measured_values": int(m.sum()),
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D samples (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(np.asarray(a, float), np.asarray(b, float)).statistic)


def electrode_means(pred: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Electrode ids and their mean curve (mean over tiles) from per-tile rows (NaN where
    an electrode's every row is NaN: a C-rate not measured)."""
    ids = np.unique(groups)
    rows = []
    for g in ids:
        sel = np.asarray(pred)[groups == g]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rows.append(np.nanmean(sel, 0) if np.isnan(sel).any() else sel.mean(0))
    return ids, np.stack(rows)


def family_scores(preds: dict, groups: np.ndarray, specs: dict) -> dict:
    """Scores of one appearance family's electrodes from per-tile curves of both units.

    ``preds`` maps unit -> (N, 5) curves per tile, ``groups`` the electrode id per tile,
    ``specs`` the electrodes (porosity, radius: clean DFN labels). Returns
    Spearman(5C Ah/kg, porosity) (physics: strongly positive), Spearman(0.2C Ah/L,
    porosity) (strongly negative), MAPE and R² per unit by electrode, and how many
    electrodes had a physically impossible curve (negative, or rising with C-rate).
    """
    from ratescope.core.train.synthetic.dataset import electrode_labels

    out: dict = {}
    for unit, pred in preds.items():
        ids, curves = electrode_means(pred, groups)
        sub = {int(i): specs[int(i)] for i in ids}
        truth = electrode_labels(sub, unit, noisy=False)
        y = np.stack([truth[int(i)] for i in ids])
        s = scores(curves, y)
        por = np.array([specs[int(i)].porosity for i in ids])
        out[f"mape_{unit}"] = round(s["mape"], 3)
        out[f"r2_{unit}"] = round(s["r2"], 4)
        rate = -1 if unit == "specific" else 0
        key = "spearman_5C_specific" if unit == "specific" else "spearman_02C_volumetric"
        out[key] = round(spearman(curves[:, rate], por), 4)
        # the physics' own value on these electrodes (radius varies too) and the rank
        # agreement of prediction and truth: the ceiling and the fairer figure
        out[f"truth_{key}"] = round(spearman(y[:, rate], por), 4)
        out[f"{key}_vs_truth"] = round(spearman(curves[:, rate], y[:, rate]), 4)
        bad = (np.asarray(pred) < 0).any(1) | (np.diff(np.asarray(pred), axis=1) > 1e-6).any(1)
        out[f"impossible_tiles_{unit}"] = int(bad.sum())
        out["electrodes"] = int(len(ids))
    return out


def electrode_mape(pred: np.ndarray, target: np.ndarray, groups: np.ndarray) -> float:
    """MAPE (%) of the electrodes' mean curves (mean over their tiles); C-rates not
    measured (NaN targets) are left out."""
    _, p = electrode_means(pred, groups)
    _, t = electrode_means(target, groups)
    return float(scores(p, t)["mape"])
