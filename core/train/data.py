"""Training data: an in-memory tile set, group-wise k-fold splits, the lab folder reader."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ratescope.core.errors import RateScopeError


@dataclass
class TileDataset:
    """Tiles with their measured capacities and the sample each comes from.

    Attributes
    ----------
    tiles : ndarray
        (N, H, W) gray or (N, H, W, 3) RGB, uint8 or uint16 (or float in [0, 1]).
    labels : ndarray
        (N, 5) capacities at :data:`core.constants.C_RATES`, positive; NaN where a C-rate
        was not measured (left out of the loss and the scores; every row has a value).
    groups : ndarray
        (N,) sample (electrode) id of each tile; splits never separate a group.
    unit : str
        ``"specific"`` (Ah/kg) or ``"volumetric"`` (Ah/L).
    source : str
        Where the data came from, for the model card.
    """

    tiles: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    unit: str = "specific"
    source: str = ""

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.float32)
        self.groups = np.asarray(self.groups)
        n = len(self.tiles)
        if self.labels.ndim != 2 or len(self.labels) != n:
            raise RateScopeError(f"labels must be (N, outputs), got {self.labels.shape}")
        if len(self.groups) != n or n == 0:
            raise RateScopeError(f"{n} tiles, {len(self.labels)} labels, {len(self.groups)} groups")
        measured = ~np.isnan(self.labels)
        if not np.all(np.isfinite(self.labels[measured])) or np.any(self.labels[measured] <= 0):
            raise RateScopeError("capacities must be finite and positive (MAPE divides by them)")
        if not np.all(measured.any(axis=1)):
            raise RateScopeError("every tile needs at least one measured capacity")

    def __len__(self) -> int:
        return len(self.tiles)

    def subset(self, index: np.ndarray) -> TileDataset:
        """The tiles at ``index`` (a view where numpy allows)."""
        index = np.asarray(index)
        return TileDataset(
            self.tiles[index], self.labels[index], self.groups[index], self.unit, self.source
        )


@dataclass(frozen=True)
class Fold:
    """Index arrays of one cross-validation fold (disjoint, group-wise)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def seeded(*parts: int) -> int:
    """A 32-bit seed derived from ``parts`` (the run's seed, fold, step, rank …), so every
    random draw of a run is reproducible and a resumed run draws the same."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def folds(groups: np.ndarray, k: int = 5, seed: int = 0) -> list[Fold]:
    """Group-wise k-fold splits: no sample (group) is ever split between sets.

    Groups are shuffled with ``seed`` and dealt into ``k`` chunks of similar tile count.
    Fold ``i`` tests on chunk ``i``: when the chunk holds two or more groups they are
    halved into validation and test (80/10/10 for k = 5, as in the paper); a single-group
    chunk is the test set and chunk ``i + 1`` the validation set. The rest trains.

    Parameters
    ----------
    groups : ndarray
        (N,) group id per tile.
    k : int
        Number of folds, 2 <= k <= number of groups (k >= 3 when a chunk holds one group).
    seed : int
        Shuffling seed.
    """
    groups = np.asarray(groups)
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if k < 2 or k > len(uniq):
        raise RateScopeError(f"{k}-fold cross-validation needs 2..{len(uniq)} folds")
    order = np.random.default_rng(seed).permutation(len(uniq))
    chunks: list[list[int]] = [[] for _ in range(k)]
    sizes = np.zeros(k, dtype=np.int64)
    for g in sorted(order, key=lambda g: -counts[g]):  # stable: ties keep shuffled order
        c = int(np.argmin(sizes))
        chunks[c].append(int(g))
        sizes[c] += counts[g]
    result = []
    for i in range(k):
        held = chunks[i]
        if len(held) >= 2:
            val_g, test_g = held[: len(held) // 2], held[len(held) // 2 :]
        else:
            if k < 3:
                raise RateScopeError("too few samples per fold for validation and test sets")
            val_g, test_g = chunks[(i + 1) % k], held
        val = np.flatnonzero(np.isin(inverse, val_g))
        test = np.flatnonzero(np.isin(inverse, test_g))
        train = np.flatnonzero(~np.isin(inverse, val_g + test_g))
        result.append(Fold(train, val, test))
    return result
