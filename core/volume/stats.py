"""The paper's statistics (Faraji Niri et al. 2022, §2.2), via ``scipy.stats``.

* **Fit check**: per-window MSE of the training windows vs the validation windows,
  two-sample t-test (``scipy.stats.ttest_ind``, equal variances); p > 0.05 means the two
  are not significantly different, i.e. no over- or under-fitting (paper: train 0.068,
  validation 0.071, p = 0.095).
* **Reconstruction check**: the voxel values of an original mini-volume vs its
  reconstruction, from their means, standard deviations and voxel counts
  (``scipy.stats.ttest_ind_from_stats``, as the paper describes); p > 0.05 means the means
  do not differ significantly (paper: p = 0.473). Means and variances are accumulated
  chunk-wise (:class:`Moments`), so a whole volume can be tested without loading it.
* Per-window means of originals vs reconstructions: paired t-test
  (``scipy.stats.ttest_rel``) over the windows of a volume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
"""Significance level used by the paper."""


@dataclass
class TTest:
    """Result of a two-sample comparison.

    Attributes
    ----------
    test : str
        Which scipy test was used.
    mean_a, std_a, mean_b, std_b : float
        Sample means and standard deviations (ddof=1) of the two groups.
    n_a, n_b : int
        Sample sizes (windows or voxels).
    statistic, pvalue : float
        The t statistic and two-sided p-value.
    """

    test: str
    mean_a: float
    std_a: float
    n_a: int
    mean_b: float
    std_b: float
    n_b: int
    statistic: float
    pvalue: float

    @property
    def different(self) -> bool:
        """True when p < 0.05 (the paper's α): the two groups differ significantly."""
        return bool(self.pvalue < ALPHA)

    def as_dict(self) -> dict:
        return {**asdict(self), "different": self.different}


class Moments:
    """Running count, mean and variance of voxel values, merged chunk by chunk (Chan et al.)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, values: np.ndarray) -> None:
        """Accumulate a block of values (any shape), in float64."""
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size == 0:
            return
        n_b, mean_b = v.size, float(v.mean())
        m2_b = float(((v - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta**2 * self.n * n_b / n
        self.n = n

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1)."""
        return float(np.sqrt(self.m2 / (self.n - 1))) if self.n > 1 else 0.0


def _samples_ttest(name: str, a, b, test) -> TTest:
    """Run ``test(a, b)`` (a ``scipy.stats`` two-sample test) and describe both samples."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    r = test(a, b)
    return TTest(
        name,
        float(a.mean()),
        float(a.std(ddof=1)),
        a.size,
        float(b.mean()),
        float(b.std(ddof=1)),
        b.size,
        float(r.statistic),
        float(r.pvalue),
    )


def mse_ttest(train_mse: np.ndarray, val_mse: np.ndarray) -> TTest:
    """Training vs validation per-window MSE, ``scipy.stats.ttest_ind`` (equal variances)."""
    return _samples_ttest("ttest_ind", train_mse, val_mse, stats.ttest_ind)


def moments_ttest(a: Moments, b: Moments) -> TTest:
    """Two-sample t-test from accumulated moments (``ttest_ind_from_stats``)."""
    r = stats.ttest_ind_from_stats(a.mean, a.std, a.n, b.mean, b.std, b.n)
    return TTest(
        "ttest_ind_from_stats",
        a.mean,
        a.std,
        a.n,
        b.mean,
        b.std,
        b.n,
        float(r.statistic),
        float(r.pvalue),
    )


def reconstruction_ttest(original: np.ndarray, reconstructed: np.ndarray) -> TTest:
    """Voxel values of an original vs its reconstruction (the paper's reconstruction check)."""
    a, b = Moments(), Moments()
    a.add(original)
    b.add(reconstructed)
    return moments_ttest(a, b)


def window_means_ttest(original_means: np.ndarray, reconstructed_means: np.ndarray) -> TTest:
    """Per-window means of originals vs reconstructions, paired (``ttest_rel``)."""
    return _samples_ttest("ttest_rel", original_means, reconstructed_means, stats.ttest_rel)
