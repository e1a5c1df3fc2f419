"""Out-of-distribution score: how far an image's tile features lie from the training set.

For each fold model the pooled features (96 numbers per tile, :meth:`RateCNN.features`)
of the training tiles are summarised by their mean and a shrunk covariance. A tile's score
is its squared Mahalanobis distance divided by the feature count (about 1 for a typical
training tile), averaged over the fold models; an image's score is the median over its
tiles. The threshold is the 99th percentile of the tile scores of held-out training-like
electrodes, so a training-like image exceeds it rarely and a foreign one clearly.

Models with an input normalisation (:mod:`core.predict.normalise`) are calibrated on
image scores instead (:func:`fit_ood_images`): the threshold is set so that held-back
training-like electrodes of every appearance family are flagged rarely, and the phase
front end's statistics (active share, separability of the two phases) must lie in the
range the training electrodes span — an image that does not split into particles and
pores as an electrode does is flagged whatever its features say.
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
    phase_lo, phase_hi : ndarray, shape (2,), optional
        Accepted range of an image's median active share and separability
        (:class:`core.predict.normalise.PhaseStats`); None for older models.
    """

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    label_min: np.ndarray
    label_max: np.ndarray
    phase_lo: np.ndarray | None = None
    phase_hi: np.ndarray | None = None

    def to_tree(self) -> dict:
        """Tensors and numbers for :func:`core.models.store.save_tree`."""
        import torch

        return {k: (torch.as_tensor(np.asarray(v, np.float32)) if k != "threshold"
                    else float(v)) for k, v in self.__dict__.items() if v is not None}  # fmt: skip

    @classmethod
    def from_tree(cls, tree: dict) -> OODModel:
        arr = {k: np.asarray(tree[k].numpy() if hasattr(tree[k], "numpy") else tree[k],
                             np.float64) for k in
               ("mean", "precision", "label_min", "label_max")}  # fmt: skip
        for k in ("phase_lo", "phase_hi"):
            if k in tree:
                arr[k] = np.asarray(tree[k].numpy() if hasattr(tree[k], "numpy") else tree[k],
                                    np.float64)  # fmt: skip
        return cls(threshold=float(tree["threshold"]), **arr)

    def phase_reasons(self, active_fraction: float, separability: float,
                      texture: float = 0.0) -> list[str]:  # fmt: skip
        """Plain-words reasons why an image's phase statistics are not an electrode's."""
        if self.phase_lo is None or self.phase_hi is None:
            return []
        out = []
        lo, hi = self.phase_lo, self.phase_hi
        if not lo[0] <= active_fraction <= hi[0]:
            out.append(f"the bright (active-material) share {active_fraction:.0%} is outside "
                       f"the {lo[0]:.0%}-{hi[0]:.0%} of electrode cross-sections")  # fmt: skip
        if separability < lo[1]:
            out.append(f"the image does not split into particles and pores as an electrode "
                       f"does (phase separability {separability:.2f} < {lo[1]:.2f})")  # fmt: skip
        if len(hi) > 2 and texture > hi[2]:
            out.append(f"the bright phase is not uniform as polished active material is "
                       f"(texture {texture:.2f} > {hi[2]:.2f})")  # fmt: skip
        return out


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


PHASE_MARGIN = np.array([0.05, 0.05, 0.2])
"""Slack beyond the training images' range of active share, separability and texture."""
IMAGE_QUANTILE = 99.0
IMAGE_MARGIN = 1.25
CROSS_FIT = 5
"""Image threshold = 1.25 x the 99th percentile of cross-fitted image scores: each fifth of
the training electrodes scored by statistics fitted on the other four fifths (what a new
image of the same world scores), the final statistics on all of them."""


def _image_medians(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return np.array([np.median(values[groups == g], axis=0) for g in np.unique(groups)])


def fit_ood_images(feats: np.ndarray, groups: np.ndarray, labels: np.ndarray,
                   phase: np.ndarray, seed: int = 0) -> tuple[OODModel, dict]:  # fmt: skip
    """Feature statistics of training tiles (k, N, F) and a cross-fitted image threshold.

    ``groups`` (N,) are the electrodes, ``phase`` (N, 3) the tiles' (active share,
    separability, texture). The phase limits span the training images' medians with
    :data:`PHASE_MARGIN` slack.
    """
    feats, groups = np.asarray(feats), np.asarray(groups)
    ids = np.random.default_rng(seed).permutation(np.unique(groups))
    part = {int(g): i % CROSS_FIT for i, g in enumerate(ids)}
    fold = np.array([part[int(g)] for g in groups])
    img = []
    for i in range(CROSS_FIT):
        fit, score = fold != i, fold == i
        stats = [_precision(f[fit]) for f in feats]
        m = OODModel(np.stack([s[0] for s in stats]), np.stack([s[1] for s in stats]), np.inf,
                     np.zeros(1), np.zeros(1))  # fmt: skip
        img.append(_image_medians(fold_mean_scores(m, feats[:, score]), groups[score]))
    img = np.concatenate(img)
    stats = [_precision(f) for f in feats]
    y = np.asarray(labels, np.float64)
    model = OODModel(np.stack([s[0] for s in stats]), np.stack([s[1] for s in stats]), np.inf,
                     y.min(0), y.max(0))  # fmt: skip
    q = float(np.percentile(img, IMAGE_QUANTILE))
    model.threshold = q * IMAGE_MARGIN
    med = _image_medians(np.asarray(phase, np.float64), groups)
    model.phase_lo = med.min(0) - PHASE_MARGIN
    model.phase_hi = med.max(0) + PHASE_MARGIN
    summary = {
        "level": "image",
        "quantile": IMAGE_QUANTILE,
        "margin": IMAGE_MARGIN,
        "threshold": model.threshold,
        "calib_electrodes": int(len(img)),
        "cross_fit": CROSS_FIT,
        "calib_image_score_median": float(np.median(img)),
        "calib_image_score_q99": q,
        "shrinkage": SHRINKAGE,
        "phase_lo": model.phase_lo.tolist(),
        "phase_hi": model.phase_hi.tolist(),
    }
    return model, summary


def image_scores(model: OODModel, feats: np.ndarray, phase: np.ndarray,
                 groups: np.ndarray) -> dict[int, bool]:  # fmt: skip
    """Whether each electrode (by ``groups``) is flagged: feature score or phase limits."""
    tile = fold_mean_scores(model, feats)
    out = {}
    for g in np.unique(groups):
        sel = groups == g
        med = np.median(np.asarray(phase)[sel], axis=0)
        out[int(g)] = bool(np.median(tile[sel]) > model.threshold
                           or model.phase_reasons(*map(float, med)))  # fmt: skip
    return out
