"""Guided backpropagation through a RateCNN's convolutions by hand, all outputs at once.

The same numbers as autograd with guided ReLUs (:func:`core.explain.guided.guided_autograd`,
captum's ``GuidedBackprop``), about twice as fast. The convolutional part of a
:class:`~core.models.ratecnn.RateCNN` is a chain of *levels*: a "same" convolution, a
ReLU, per-channel affine modules (eval batch norm), optionally a non-overlapping max
pool. Its guided backward pass is, level by level from the top::

    g_relu = scale * unpool(g_next)              (scale: the level's batch norms)
    g_conv = relu(g_relu) * (conv output > 0)    (the guided ReLU)
    g_next' = conv_transpose(g_conv, weight)

Done here with no autograd and no batch-norm backward: the scale is folded into the
next level's transposed-convolution weights (it commutes with the unpooling scatter);
unpooling and both ReLU factors are one clamp of the nearest-upsampled gradient between
0 and a cap that is +inf where the pixel was the pool's argmax *and* its ReLU was open,
0 elsewhere; the input standardisation and the colour-channel sum are folded into the
first level's weights. The five outputs run as one batch of five from a single forward
pass (their guided gradients differ, so they cannot share one backward pass). Only the
small dense head uses autograd (with guided ``nn.ReLU`` hooks, like captum).

The backward pass may run in bfloat16 (``back_dtype``): on CPUs that multiply bfloat16
natively (AMX) its transposed convolutions are about 4x faster, and the maps differ from
float32 by a few tenths of a percent (the forward pass, which decides where gradients
pass, stays in the model's precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ratescope.core.explain.common import frozen, guide
from ratescope.core.explain.stages import Pool, stages_of
from ratescope.core.progress import ProgressFn, report

_IDENTITY = (nn.Identity, nn.Dropout, nn.Dropout2d)
_CL = torch.channels_last


@dataclass
class Level:
    """A "same" convolution, a ReLU, per-channel affine modules, an optional max pool."""

    conv: nn.Conv2d
    affine: list[nn.Module]
    pool: int = 0


def _known_affine(m: nn.Module) -> bool:
    if isinstance(m, _IDENTITY):
        return True
    return isinstance(m, nn.BatchNorm2d) and m.running_var is not None


def fast_levels(model: nn.Module) -> list[Level] | None:
    """The levels of ``model``'s convolutional part, or None where the fast path does not
    apply (not a RateCNN, or a layer pattern other than conv -> ReLU -> batch norm)."""
    if not all(hasattr(model, a) for a in ("head", "input_mean", "input_std")):
        return None
    try:
        stages = stages_of(model)
    except (AttributeError, TypeError, ValueError):
        return None
    levels: list[Level] = []
    for st in stages:
        if isinstance(st, Pool):
            if not levels or levels[-1].pool:
                return None
            levels[-1].pool = st.s
            continue
        post = st.post
        if st.conv.groups != 1 or not post or type(post[0]) is not nn.ReLU:
            return None
        if not all(_known_affine(m) for m in post[1:]):
            return None
        levels.append(Level(st.conv, list(post[1:])))
    if not levels or levels[-1].pool:
        return None
    return levels


def _scale(level: Level, like: torch.Tensor) -> torch.Tensor:
    """Per-channel factor of the level's affine modules (eval batch norm), (C,)."""
    s = torch.ones(level.conv.out_channels, dtype=like.dtype)
    for m in level.affine:
        if isinstance(m, nn.BatchNorm2d):
            s = s * torch.rsqrt(m.running_var + m.eps).to(like.dtype)
            if m.affine:
                s = s * m.weight.to(like.dtype)
    return s


def _forward(levels: list[Level], a: torch.Tensor, back_dtype: torch.dtype):
    """Run the levels on the standardised input; return the last activation, and per
    level its scale and its clamp cap (+inf where gradient passes, 0 elsewhere), the
    caps in ``back_dtype``."""
    caps, scales = [], []
    for lv in levels:
        c = lv.conv
        a = torch.relu_(F.conv2d(a, c.weight, c.bias, padding=c.padding))
        open_ = a > 0
        for m in lv.affine:
            a = m(a)
        if lv.pool:
            n, ch, h, w = a.shape
            a, idx = F.max_pool2d(a, lv.pool, return_indices=True)
            hit = torch.zeros(n, ch, h * w, dtype=torch.bool)
            hit.scatter_(2, idx.flatten(2), True)
            open_ &= hit.view(n, ch, h, w)
        cap = torch.where(open_, torch.inf, 0.0).to(back_dtype)
        caps.append(cap.contiguous(memory_format=_CL))
        scales.append(_scale(lv, a))
    return a, scales, caps


def _head_jacobian(model: nn.Module, pooled: torch.Tensor) -> torch.Tensor:
    """d output_k / d pooled features for every k: (n_outputs, C), guided head ReLUs."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.enable_grad():
        handles = [m.register_forward_hook(guide) for m in relus]
        try:
            n = model.head(pooled).shape[1]
            p = pooled.expand(n, -1).clone().requires_grad_(True)
            out = model.head(p)
        finally:
            for h in handles:
                h.remove()
        (jac,) = torch.autograd.grad(out, p, torch.eye(n, dtype=out.dtype))
    return jac


def _unpool(g: torch.Tensor, s: int, size: torch.Size) -> torch.Tensor:
    """Nearest-upsample ``g`` by ``s`` to ``size`` (zeros where floor pooling dropped)."""
    up = F.interpolate(g, scale_factor=s, mode="nearest")
    dh, dw = size[0] - up.shape[2], size[1] - up.shape[3]
    if dh or dw:
        up = F.pad(up, (0, dw, 0, dh)).contiguous(memory_format=_CL)
    return up


def guided_fast(
    model: nn.Module,
    levels: list[Level],
    x: torch.Tensor,
    channel_sum: bool = True,
    progress: ProgressFn | None = None,
    back_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Guided backpropagation of every output: (n_outputs, [3,] H, W) tensor in x's dtype.

    ``levels`` from :func:`fast_levels`; ``x`` the model input (1, 3, H, W);
    ``back_dtype`` the backward pass's dtype (default: x's).
    """
    report(progress, 0.0, "guided backpropagation: forward pass")
    bd = back_dtype or x.dtype
    zero = torch.zeros((), dtype=bd)
    with frozen(model), torch.no_grad():
        std = model.input_std.view(1, -1, 1, 1).to(x.dtype)
        a = (x - model.input_mean.view(1, -1, 1, 1)) / std
        a, scales, caps = _forward(levels, a.contiguous(memory_format=_CL), bd)
        jac = _head_jacobian(model, a.mean(dim=(2, 3)))
        report(progress, 0.2, "guided backpropagation: backward pass")
        n = jac.shape[0]
        g = (jac * scales[-1] / (a.shape[2] * a.shape[3])).view(n, -1, 1, 1).to(bd)
        g = torch.clamp(g.expand(n, *caps[-1].shape[1:]), min=zero, max=caps[-1])
        g = g.contiguous(memory_format=_CL)
        for i in range(len(levels) - 1, 0, -1):
            conv, below = levels[i].conv, levels[i - 1]
            weight = (conv.weight * scales[i - 1].view(1, -1, 1, 1)).to(bd)
            g = F.conv_transpose2d(g, weight, padding=conv.padding)
            if below.pool:
                g = _unpool(g, below.pool, caps[i - 1].shape[2:])
            g = g.clamp_(min=zero, max=caps[i - 1])
            report(progress, 0.2 + 0.7 * (len(levels) - i) / len(levels),
                   "guided backpropagation: backward pass")  # fmt: skip
        conv = levels[0].conv
        weight = conv.weight / std.view(1, -1, 1, 1)
        if channel_sum:
            weight = weight.sum(dim=1, keepdim=True)
        g = F.conv_transpose2d(g, weight.to(bd), padding=conv.padding).to(x.dtype)
    report(progress, 1.0, "guided backpropagation: done")
    return g[:, 0] if channel_sum else g
