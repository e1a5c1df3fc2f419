"""One entry point for every method, and the fold-ensemble average with per-fold maps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ratescope.core.explain.common import METHODS, model_input
from ratescope.core.explain.gradram import gradram_map
from ratescope.core.explain.guided import guided_backprop_map
from ratescope.core.explain.occlusion import occlusion_map
from ratescope.core.progress import ProgressFn, report

_FUNCS = {"gradram": gradram_map, "guided": guided_backprop_map, "occlusion": occlusion_map}


def explain(
    model: nn.Module,
    tile: np.ndarray | torch.Tensor,
    method: str,
    progress: ProgressFn | None = None,
    **options,
) -> np.ndarray:
    """The map of ``method`` (one of :data:`~core.explain.common.METHODS`) for one model.

    ``options`` go to :func:`~core.explain.gradram.gradram_map`,
    :func:`~core.explain.guided.guided_backprop_map` or
    :func:`~core.explain.occlusion.occlusion_map` (e.g. ``patch``, ``stride``, ``fill``).
    Returns what that function returns: float32 (n_outputs, ...) with positive = raises.
    """
    if method not in _FUNCS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return _FUNCS[method](model, model_input(model, tile), progress=progress, **options)


@dataclass
class EnsembleMaps:
    """Maps of every fold model and their mean.

    Attributes
    ----------
    method : str
        One of :data:`~core.explain.common.METHODS`.
    per_fold : ndarray, float32, shape (n_folds, n_outputs, ...)
        ``per_fold[f]`` is the map of fold model ``f`` (same shape as :func:`explain`).
    """

    method: str
    per_fold: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Average over the folds, float32 (n_outputs, ...)."""
        return self.per_fold.mean(axis=0, dtype=np.float64).astype(np.float32)

    @property
    def std(self) -> np.ndarray:
        """Spread over the folds (population standard deviation), float32 (n_outputs, ...)."""
        return self.per_fold.std(axis=0, dtype=np.float64).astype(np.float32)

    def fold(self, i: int) -> np.ndarray:
        """The map of fold ``i``."""
        return self.per_fold[i]

    def __len__(self) -> int:
        return len(self.per_fold)


def ensemble_maps(
    models: Sequence[nn.Module],
    tile: np.ndarray | torch.Tensor,
    method: str,
    progress: ProgressFn | None = None,
    **options,
) -> EnsembleMaps:
    """Maps of ``method`` for each model of a fold ensemble (the same tile).

    Parameters
    ----------
    models : sequence of RateCNN
        The fold models (one unit).
    tile : ndarray or Tensor
        One tile, see :func:`core.explain.common.as_input`.
    method : str
        ``"gradram"``, ``"guided"`` or ``"occlusion"``.
    progress : ProgressFn, optional
        Overall progress over all folds; may raise :class:`~core.errors.Cancelled`.
    **options
        Passed to the method's function.

    Returns
    -------
    EnsembleMaps
        ``.mean`` is what the ensemble shows; ``.per_fold`` / ``.fold(i)`` each model's.
    """
    if not models:
        raise ValueError("no models given")
    n = len(models)
    maps = []
    inputs: dict[str, torch.Tensor] = {}  # normalise the tile once per normalisation
    for i, model in enumerate(models):
        norm = getattr(getattr(model, "config", None), "input_norm", "none")
        if norm not in inputs:
            inputs[norm] = model_input(model, tile)

        def sub(frac: float, msg: str, i: int = i) -> None:
            report(progress, (i + frac) / n, f"fold {i + 1}/{n}: {msg}")

        maps.append(explain(model, inputs[norm], method, progress=sub, **options))
    report(progress, 1.0, "done")
    return EnsembleMaps(method, np.stack(maps).astype(np.float32, copy=False))
