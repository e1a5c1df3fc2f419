"""Model-card metrics of a trained CAE: the paper's t-tests on validation and held-out data.

* ``fit_ttest``: training vs validation per-window MSE (``ttest_ind``; the paper's fit check,
  p > 0.05 = no significant over/under-fitting).
* ``reconstruction_ttest``: voxel values of one window vs its reconstruction
  (``ttest_ind_from_stats``; the paper's reconstruction check).
* held-out: per-window MSE on volumes never used while training, its t-tests against the
  training and validation MSE, the reconstruction check on one held-out window and a paired
  t-test of the per-window means (original vs reconstructed) over all held-out windows;
  beside them two references: each window's own mean everywhere, and a linear code of as
  many features as the CAE's latent space, fitted on training windows (:func:`pca_mse`).
"""

from __future__ import annotations

import numpy as np
import torch

from ratescope.core.models.cae_data import WindowSet
from ratescope.core.models.cae_train import TrainResult, window_stats
from ratescope.core.volume.stats import mse_ttest, reconstruction_ttest, window_means_ttest


def train_metrics(result: TrainResult) -> dict:
    """Training / validation MSE and the paper's two t-tests, JSON-able."""
    return {
        "train_mse": float(result.train_mse.mean()),
        "train_mse_windows_evaluated": int(len(result.train_mse)),
        "val_mse": float(result.val_mse.mean()),
        "fit_ttest": result.fit_test.as_dict() if result.fit_test else None,
        "reconstruction_ttest": result.recon_test.as_dict() if result.recon_test else None,
    }


def heldout_metrics(
    result: TrainResult,
    heldout: WindowSet,
    batch: int = 2,
    device: str = "cpu",
    train: WindowSet | None = None,
) -> dict:
    """Metrics of ``result.model`` on held-out windows (see the module docstring); with
    ``train`` also the PCA reference fitted on (a subset of) its windows."""
    st = window_stats(result.model, heldout, range(len(heldout)), batch, device)
    ho = st["mse"]
    x = heldout.batch([len(heldout) // 2]).to(device)
    with torch.inference_mode():
        y = result.model(x)
    out = {
        "windows": len(heldout),
        "mse": float(ho.mean()),
        "mse_std": float(ho.std(ddof=1)) if len(ho) > 1 else 0.0,
        "predict_mean_mse": float(_mean_baseline(heldout)),
        **({"pca_mse": pca_mse(train, heldout, result.model.latent)} if train else {}),
        "reconstruction_ttest": reconstruction_ttest(x.cpu().numpy(), y.cpu().numpy()).as_dict(),
    }
    if len(ho) > 1:
        means = window_means_ttest(st["mean_original"], st["mean_reconstructed"])
        out["window_means_ttest"] = means.as_dict()
        for name, ref in (("train", result.train_mse), ("val", result.val_mse)):
            if ref is not None and len(ref) > 1:
                out[f"{name}_vs_heldout_ttest"] = mse_ttest(ref, ho).as_dict()
    return out


def _mean_baseline(data: WindowSet) -> float:
    """MSE of predicting each window's own mean everywhere (its voxel variance), averaged."""
    return float(np.mean([data.batch([i]).var(unbiased=False).item() for i in range(len(data))]))


def pca_mse(train: WindowSet, test: WindowSet, k: int = 10, n: int = 120, seed: int = 0) -> float:
    """Held-out MSE of the best linear ``k``-feature code fitted on ``n`` training windows.

    Principal components of ``n`` windows drawn from ``train`` (their mean plus the top
    ``k`` directions, via the ``n x n`` Gram matrix), then every window of ``test``
    projected on them and reconstructed: what a linear autoencoder with ``k`` latent
    features trained on those windows reaches on ``test``. On windows of the training
    volumes it is low; on other volumes of a random microstructure it is worse than each
    window's own mean, the training mean being itself a microstructure.
    """
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(train), min(n, len(train)), replace=False))
    x = train.batch(pick).reshape(len(pick), -1).double()
    mean = x.mean(0)
    x -= mean
    evals, evecs = torch.linalg.eigh(x @ x.T)  # ascending
    top = evecs[:, -k:] / evals[-k:].clamp_min(1e-12).sqrt()
    basis = top.T @ x  # [k, d], orthonormal rows
    err = []
    for i in range(len(test)):
        y = test.batch([i]).reshape(-1).double() - mean
        err.append(float((y - basis.T @ (basis @ y)).pow(2).mean()))
    return float(np.mean(err))


def summary_lines(metrics: dict) -> list[str]:
    """Human-readable lines beside the paper's figures."""
    fit = metrics.get("fit_ttest") or {}
    rec = metrics.get("reconstruction_ttest") or {}
    lines = [
        f"train MSE {metrics['train_mse']:.4f}  val MSE {metrics['val_mse']:.4f}  "
        f"fit p = {fit.get('pvalue', float('nan')):.3g}  (paper: 0.068 / 0.071 / p = 0.095)",
        f"reconstruction p (validation window) = {rec.get('pvalue', float('nan')):.3g} "
        "(paper 0.473)",
    ]
    ho = metrics.get("heldout")
    if ho:
        lines.append(
            f"held-out MSE {ho['mse']:.4f} (window-mean baseline {ho['predict_mean_mse']:.4f}"
            + (f", same-size PCA code {ho['pca_mse']:.4f}" if "pca_mse" in ho else "")
            + "), "
            f"reconstruction p = {ho['reconstruction_ttest']['pvalue']:.3g}, "
            f"window means p = {ho.get('window_means_ttest', {}).get('pvalue', float('nan')):.3g}"
        )
    return lines
