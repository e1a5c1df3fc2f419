"""Shared helpers of the explanation maps: model input, eval/frozen model, method names,
the guided-ReLU hook."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

METHODS = ("gradram", "guided", "occlusion")
"""Names of the explanation methods (``core.explain.explain`` and the CLI)."""

SIGN_CONVENTION = (
    "positive (red) = the region raises the predicted capacity, negative (blue) = it lowers it"
)
"""The sign convention shared by every map of this package."""


def as_input(tile: np.ndarray | torch.Tensor) -> torch.Tensor:
    """One tile as the model's input: float32 (1, 3, H, W) in [0, 1], channels_last.

    Parameters
    ----------
    tile : ndarray or Tensor
        ndarray (H, W) gray or (H, W, 3) RGB, uint8 / uint16 / float in [0, 1]
        (converted by :func:`core.models.ratecnn.tiles_to_tensor`), or a Tensor
        (3, H, W) / (1, 3, H, W) already in model-input units.
    """
    if isinstance(tile, torch.Tensor):
        t = tile.detach().to(torch.float32)
        if t.ndim == 3:
            t = t[None]
        if t.ndim != 4 or t.shape[0] != 1:
            raise ValueError(
                f"a tensor tile must be (3, H, W) or (1, 3, H, W), got {tuple(t.shape)}"
            )
        return t.contiguous(memory_format=torch.channels_last)
    from ratescope.core.models.ratecnn import tiles_to_tensor

    a = np.asarray(tile)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3):
        raise ValueError(f"a tile must be (H, W) or (H, W, 3), got {a.shape}")
    return tiles_to_tensor(a[None])


def model_input(model: nn.Module, tile: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``tile`` as ``model`` sees it: its card's input normalisation, then :func:`as_input`.

    A Tensor is taken as already normalised. Explanations are computed on the normalised
    tile (same geometry as the image), exactly as the prediction was.
    """
    norm = getattr(getattr(model, "config", None), "input_norm", "none")
    if isinstance(tile, torch.Tensor) or norm == "none":
        return as_input(tile)
    from ratescope.core.model_input import prepare_tiles
    from ratescope.core.predict.normalise import normalise_tiles

    return as_input(normalise_tiles(prepare_tiles(np.asarray(tile)[None]), norm)[0])


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and parameters without gradients for the duration; restored afterwards.

    Explanations need gradients with respect to activations or the input only, never the
    weights; batch norm and dropout must behave as at prediction time.
    """
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


class _PositiveGrad(torch.autograd.Function):
    """Identity forward; backward keeps only the positive part of the gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return grad.clamp(min=0)


def guide(_mod: nn.Module, _inp: tuple, out: torch.Tensor) -> torch.Tensor:
    """Forward hook for an ``nn.ReLU``: its backward becomes guided (positive part only)."""
    return _PositiveGrad.apply(out)


def model_dtype(model: nn.Module) -> torch.dtype:
    """Floating dtype of the model's parameters (float32 normally)."""
    return next(model.parameters()).dtype
