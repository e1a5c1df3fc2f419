"""Guided backpropagation (Springenberg et al. 2015) for every output of a model.

The gradient of one output with respect to the input pixels, where every ``nn.ReLU``
lets only positive gradients pass backwards (``grad_in = relu(grad_out) * (x > 0)``).
This is captum's ``GuidedBackprop`` (which hooks ``nn.ReLU`` modules only; the leaky
ReLUs of the dense head keep their ordinary gradient), for all outputs at once.

A :class:`~core.models.ratecnn.RateCNN` takes the fast path of
:mod:`core.explain.guided_fast` (one forward pass, one hand-written backward pass for
all outputs as a batch, no autograd below the pooled features); any other model (or a
RateCNN with layers that path does not know) takes :func:`guided_autograd`, one forward
and one autograd backward pass per output with hooks on the ReLUs.

Precision: a float32 model's fast path runs its backward pass in bfloat16 when
:func:`core.models.precision.inference_precision` says so (``RATESCOPE_PRECISION=bf16``
or ``auto`` on CPUs with native bfloat16; float32 by default); the maps then differ from
float32 by a few tenths of a percent. ``precision="fp32"`` asks for the float32 reference.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ratescope.core.explain.common import as_input, frozen, guide, model_dtype
from ratescope.core.explain.guided_fast import fast_levels, guided_fast
from ratescope.core.models.precision import inference_precision
from ratescope.core.progress import ProgressFn, report


def guided_backprop_map(
    model: nn.Module,
    tile: np.ndarray | torch.Tensor,
    channel_sum: bool = True,
    progress: ProgressFn | None = None,
    precision: str | None = None,
) -> np.ndarray:
    """Guided-backpropagation maps of every output.

    Parameters
    ----------
    model : nn.Module
        A :class:`~core.models.ratecnn.RateCNN` or any model mapping (1, 3, H, W) to
        (1, n_outputs); used in eval mode, left as it was.
    tile : ndarray or Tensor
        One tile, see :func:`core.explain.common.as_input`.
    channel_sum : bool
        Sum the three colour channels (default; gray tiles are three identical channels,
        so the sum is the gradient with respect to the gray value). ``False`` keeps them.
    progress : ProgressFn, optional
        Called with the fraction done; may raise :class:`~core.errors.Cancelled`.
    precision : {"fp32", "bf16"}, optional
        Backward-pass precision of a float32 RateCNN (default: the inference precision of
        this CPU). Other models and float64 models keep their own dtype.

    Returns
    -------
    ndarray, float32, shape (n_outputs, H, W), or (n_outputs, 3, H, W) without the sum
        ``map[k]``: guided gradient of output k (capacity unit) per unit input (pixel
        value / dtype max). Positive = brightening the pixel raises the prediction.
    """
    x = as_input(tile).to(model_dtype(model))
    levels = fast_levels(model)
    if levels is not None:
        wanted = precision or inference_precision()
        if wanted not in ("fp32", "bf16"):
            raise ValueError(f"unknown precision {wanted!r} (fp32 or bf16)")
        bf16 = wanted == "bf16" and x.dtype == torch.float32
        back = torch.bfloat16 if bf16 else x.dtype
        g = guided_fast(model, levels, x, channel_sum, progress, back_dtype=back)
    else:
        g = guided_autograd(model, x, channel_sum, progress)
    return g.to(torch.float32).contiguous().numpy().copy()


def guided_autograd(
    model: nn.Module,
    x: torch.Tensor,
    channel_sum: bool = True,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Guided backpropagation by autograd, for any model: (n_outputs, [3,] H, W) tensor.

    ``x`` is the model input (1, 3, H, W). One forward pass with every ``nn.ReLU``
    hooked, then one backward pass per output.
    """
    x = x.detach().requires_grad_(True)
    report(progress, 0.0, "guided backpropagation: forward pass")
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    with frozen(model), torch.enable_grad():
        handles = [m.register_forward_hook(guide) for m in relus]
        try:
            out = model(x)
        finally:
            for h in handles:
                h.remove()
        n_out = out.shape[1]
        maps = []
        for k in range(n_out):
            (g,) = torch.autograd.grad(out[0, k], x, retain_graph=k < n_out - 1)
            maps.append(g[0].sum(dim=0) if channel_sum else g[0])
            report(progress, (k + 1) / n_out, f"guided backpropagation: output {k + 1}/{n_out}")
    return torch.stack(maps)
