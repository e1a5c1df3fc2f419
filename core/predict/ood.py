"""Out-of-distribution score: how far an image's tile features lie from the training set.

For each fold model the pooled features (96 numbers per tile, :meth:`RateCNN.features`)
of the training tiles are summarised by their mean and a shrunk covariance. A tile's score
is its squared Mahalanobis distance divided by the feature count (about 1 for a typical
training tile), averaged over the fold models; an image's score is the median over its
tiles. The threshold is the 99th percentile of the tile scores of held-out training-like
electrodes, so a training-like image exceeds it rarely and a foreign one clearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUANTILE = 99.0
SHRINKAGE = 0.05


@dataclass
class OODModel:
    """Per-fold feature statistics and the calibrated threshold of one unit.

    Attributes
    ----------
    mean : ndarray, shape (k, F)
    precision : ndarray, shape (k, F, F)
        Inverse of the shrunk covariance of each fold model's training features.
    threshold : float
        Image scores above it are out of distribution.
    label_min, label_max : ndarray, shape (5,)
        Range of the training labels; predictions well outside it are flagged.
    """

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    label_min: np.ndarray
    label_max: np.ndarray

    def to_tree(self) -> dict:
        """Tensors and numbers for :func:`core.models.store.save_tree`."""
        import torch

        return {k: (torch.as_tensor(np.asarray(v, np.float32)) if k != "threshold"
                    else float(v)) for k, v in self.__dict__.items()}  # fmt: skip

    @classmethod
    def from_tree(cls, tree: dict) -> OODModel:
        arr = {k: np.asarray(tree[k].numpy() if hasattr(tree[k], "numpy") else tree[k],
                             np.float64) for k in
               ("mean", "precision", "label_min", "label_max")}  # fmt: skip
        return cls(threshold=float(tree["threshold"]), **arr)


def _precision(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(feats, np.float64)
    mu = f.mean(0)
    cov = np.cov(f, rowvar=False)
    scale = np.trace(cov) / len(cov)
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * scale * np.eye(len(cov))
    return mu, np.linalg.inv(cov)


def tile_scores(feats: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance / feature count of each row of ``feats`` (N, F)."""
    d = np.asarray(feats, np.float64) - mean
    return np.einsum("nf,fg,ng->n", d, precision, d) / d.shape[1]


def fold_mean_scores(model: OODModel, feats: np.ndarray) -> np.ndarray:
    """Tile scores (N,) averaged over the folds given: ``feats`` is (k', N, F), k' <= k."""
    return np.mean([tile_scores(f, model.mean[i], model.precision[i])
                    for i, f in enumerate(feats)], axis=0)  # fmt: skip


def fit_ood(train_feats: np.ndarray, calib_feats: np.ndarray, train_labels: np.ndarray,
            quantile: float = QUANTILE) -> tuple[OODModel, dict]:  # fmt: skip
    """Fit the statistics on training features (k, N, F); calibrate on held-out (k, M, F).

    Returns the model and a calibration summary (score percentiles) for the model card.
    """
    stats = [_precision(f) for f in train_feats]
    mean = np.stack([s[0] for s in stats])
    prec = np.stack([s[1] for s in stats])
    labels = np.asarray(train_labels, np.float64)
    provisional = OODModel(mean, prec, np.inf, labels.min(0), labels.max(0))
    calib = fold_mean_scores(provisional, calib_feats)
    train = fold_mean_scores(provisional, train_feats)
    threshold = float(np.percentile(calib, quantile))
    summary = {"quantile": quantile, "threshold": threshold,
               "heldout_tile_score_median": float(np.median(calib)),
               "train_tile_score_median": float(np.median(train)),
               "heldout_tiles": int(calib.size), "shrinkage": SHRINKAGE}  # fmt: skip
    provisional.threshold = threshold
    return provisional, summary
