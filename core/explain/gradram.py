"""Grad-RAM: Grad-CAM of a regression output on the last convolution, keeping the sign.

Grad-RAM (paper 1, §2.7; Selvaraju et al. without the final ReLU) weights the
activation ``A`` (C, h, w) of a convolution by the spatial mean of the gradient of one
output with respect to it::

    cam_k = sum_c  mean_{y,x}(d out_k / d A[c]) * A[c]          (h, w)

then upsamples it bilinearly (``align_corners=False``) to the tile. This is captum's
``LayerGradCam(model, layer).attribute(x, target=k, relu_attributions=False)`` followed
by ``LayerAttribution.interpolate(..., "bilinear")`` — for all outputs from one forward
pass (the backward passes only run from the outputs down to the layer, which is cheap).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ratescope.core.explain.common import as_input, frozen, model_dtype
from ratescope.core.progress import ProgressFn, report


def gradram_map(
    model: nn.Module,
    tile: np.ndarray | torch.Tensor,
    layer: nn.Module | None = None,
    upsample: bool = True,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Signed Grad-RAM maps of every output.

    Parameters
    ----------
    model : nn.Module
        A :class:`~core.models.ratecnn.RateCNN` (or any model mapping (1, 3, H, W) to
        (1, n_outputs)); used in eval mode, left as it was.
    tile : ndarray or Tensor
        One tile, see :func:`core.explain.common.as_input`.
    layer : nn.Module, optional
        The convolution whose output is weighted; ``model.last_conv`` by default. Its
        output is taken before the following ReLU and batch norm.
    upsample : bool
        Upsample to the tile (bilinear) — default; else the layer's own resolution.
    progress : ProgressFn, optional
        Called with the fraction done; may raise :class:`~core.errors.Cancelled`.

    Returns
    -------
    ndarray, float32, shape (n_outputs, H, W) (or (n_outputs, h, w) without upsampling)
        ``map[k]`` for output k (C-rate order of the model card). Units: capacity unit of
        the model per unit activation. Positive = the region raises the predicted
        capacity, negative = it lowers it.
    """
    layer = layer if layer is not None else model.last_conv
    x = as_input(tile).to(model_dtype(model))
    report(progress, 0.0, "Grad-RAM: forward pass")
    captured: dict[str, torch.Tensor] = {}

    def hook(_mod: nn.Module, _inp: tuple, out: torch.Tensor) -> torch.Tensor:
        leaf = out.detach().requires_grad_(True)
        captured["a"] = leaf
        return leaf * 1.0  # a non-leaf copy: a following in-place ReLU may modify it

    with frozen(model), torch.enable_grad():
        handle = layer.register_forward_hook(hook)
        try:
            out = model(x)
        finally:
            handle.remove()
        act = captured["a"]
        n_out = out.shape[1]
        cams = []
        for k in range(n_out):
            (grad,) = torch.autograd.grad(out[0, k], act, retain_graph=k < n_out - 1)
            weights = grad.mean(dim=(2, 3), keepdim=True)
            cams.append((weights * act.detach()).sum(dim=1, keepdim=True))
            report(progress, 0.5 + 0.4 * (k + 1) / n_out, f"Grad-RAM: output {k + 1}/{n_out}")
    cam = torch.cat(cams, dim=0)  # (n_out, 1, h, w)
    if upsample:
        cam = F.interpolate(cam, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)
    report(progress, 1.0, "Grad-RAM: done")
    return cam[:, 0].to(torch.float32).numpy().copy()
