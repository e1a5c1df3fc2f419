"""Occlusion maps: how much each ``patch x patch`` region moves every predicted capacity.

A window is replaced by the fill colour (by default the training set's mean colour, which
the model stores as its input normalisation mean) and the prediction compared with the
original one. Window ``(i, j)`` covers rows ``i*stride_y ... i*stride_y + patch_h - 1`` and
columns ``j*stride_x ... j*stride_x + patch_w - 1``; there are
``(H - patch_h) // stride_y + 1`` x ``(W - patch_w) // stride_x + 1`` of them — 32 x 96
for the paper's 7 x 7 patch, stride 7 on a 224 x 672 tile (captum's ``Occlusion`` counts
them the same way).

Sign (captum's convention): ``value = prediction(original) - prediction(occluded)``.
Positive (red) = the region raises the predicted capacity; negative (blue) = lowers it.

:func:`occlusion_map` computes it exactly but fast (see :mod:`core.explain.local`);
:func:`occlusion_naive` is the reference: one full forward pass per occluded image.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ratescope.core.explain.common import as_input, frozen, model_dtype
from ratescope.core.explain.local import pooled_deltas
from ratescope.core.explain.stages import run_stage, stages_of
from ratescope.core.progress import ProgressFn, report

PATCH = 7
STRIDE = 7
"""The paper's occlusion window and stride (px)."""


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


def occlusion_grid(
    shape: tuple[int, int],
    patch: int | tuple[int, int] = PATCH,
    stride: int | tuple[int, int] = STRIDE,
) -> tuple[int, int]:
    """Number of windows (rows, columns) on an image of ``shape`` (H, W)."""
    (ph, pw), (sy, sx) = _pair(patch), _pair(stride)
    h, w = shape
    if ph < 1 or pw < 1 or sy < 1 or sx < 1 or ph > h or pw > w:
        raise ValueError(f"patch {ph}x{pw} / stride {sy}x{sx} do not fit a {h}x{w} image")
    return (h - ph) // sy + 1, (w - pw) // sx + 1


def _fill(model: nn.Module, fill: float | np.ndarray | None, channels: int) -> torch.Tensor:
    if fill is None:
        return model.input_mean.detach().clone()
    f = torch.as_tensor(np.asarray(fill, dtype=np.float64)).to(model_dtype(model)).flatten()
    if f.numel() == 1:
        f = f.expand(channels).clone()
    if f.numel() != channels:
        raise ValueError(f"fill must be a scalar or {channels} values, got {f.numel()}")
    return f


def _difference(model: nn.Module, pooled: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """``head(pooled) - head(pooled + delta)`` (N, n_outputs), computed in float64.

    ``pooled`` (1, C) are the original pooled features, ``delta`` (N, C) their changes.
    At ~150 Ah/kg float32 rounding alone is ~1e-5, and ``pooled + delta`` in float32
    loses the low digits of a small window's ``delta``; the dense head is small, so it
    runs in float64 on a copy, and the label mean cancels before it is added.
    """
    head = copy.deepcopy(nn.Sequential(model.regressor, model.output)).double().eval()
    p = pooled.double()
    z = head(torch.cat([p, p + delta.double()]))
    return (z[:1] - z[1:]) * model.label_std.double()


def _window_origins(shape, patch, stride, windows):
    (ph, pw), (sy, sx) = _pair(patch), _pair(stride)
    ny, nx = occlusion_grid(shape, (ph, pw), (sy, sx))
    if windows is None:
        flat = torch.arange(ny * nx)
    else:
        flat = torch.as_tensor(np.asarray(windows, dtype=np.int64)).flatten()
        if len(flat) and (int(flat.min()) < 0 or int(flat.max()) >= ny * nx):
            raise ValueError(f"window indices must lie in [0, {ny * nx})")
    return flat, (flat // nx) * sy, (flat % nx) * sx, (ph, pw), (ny, nx)


def _as_grid(values: torch.Tensor, grid: tuple[int, int], windows) -> np.ndarray:
    """(N, n_out) values -> (n_out, ny, nx) map, or (n_out, N) for a window subset."""
    v = values.to(torch.float32).T.contiguous()
    if windows is None:
        return v.reshape(v.shape[0], *grid).numpy().copy()
    return v.numpy().copy()


def occlusion_map(
    model: nn.Module,
    tile: np.ndarray | torch.Tensor,
    patch: int | tuple[int, int] = PATCH,
    stride: int | tuple[int, int] = STRIDE,
    fill: float | np.ndarray | None = None,
    chunk: int = 256,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Exact occlusion map of every output, computed incrementally (fast).

    Parameters
    ----------
    model : RateCNN
        Used in eval mode (left as it was). Needs the local stages of
        :func:`core.explain.stages.stages_of` and ``head``.
    tile : ndarray or Tensor
        One tile, see :func:`core.explain.common.as_input`.
    patch, stride : int or (int, int)
        Window size and step (height, width) in px; 7 and 7 by default (the paper's).
    fill : float or array of 3, optional
        Fill colour in model-input units (pixel value / dtype max, i.e. [0, 1]); default
        the model's ``input_mean``: the training set's mean colour.
    chunk : int
        Windows per batch (memory about ``chunk`` x 60 kB).
    progress : ProgressFn, optional
        Called with the fraction done; may raise :class:`~core.errors.Cancelled`.

    Returns
    -------
    ndarray, float32, shape (n_outputs, ny, nx)
        ``prediction(original) - prediction(occluded)`` in the model's capacity unit.
        Positive = the region raises the predicted capacity.
    """
    x = as_input(tile).to(model_dtype(model))
    (ph, pw), (sy, sx) = _pair(patch), _pair(stride)
    grid = occlusion_grid(tuple(x.shape[2:]), (ph, pw), (sy, sx))
    stages = stages_of(model)
    report(progress, 0.0, "occlusion: forward pass")
    with frozen(model), torch.inference_mode():
        fill_t = _fill(model, fill, x.shape[1])
        mean, std = model.input_mean, model.input_std
        acts = [(x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)]
        for st in stages:
            acts.append(run_stage(st, acts[-1]))
        pooled = acts[-1].double().mean(dim=(2, 3))
        fill_std = (fill_t - mean) / std
        delta = pooled_deltas(
            stages,
            acts,
            fill_std,
            (ph, pw),
            (sy, sx),
            grid,
            chunk=chunk,
            progress=lambda f, m: report(progress, 0.02 + 0.96 * f, m),
        )
        values = _difference(model, pooled, delta.flatten(0, 1))
    report(progress, 1.0, "occlusion: done")
    return _as_grid(values, grid, None)


def occlusion_naive(
    model: nn.Module,
    tile: np.ndarray | torch.Tensor,
    patch: int | tuple[int, int] = PATCH,
    stride: int | tuple[int, int] = STRIDE,
    fill: float | np.ndarray | None = None,
    windows: np.ndarray | None = None,
    batch: int = 16,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Reference occlusion map: one full forward pass per occluded image (slow).

    Same parameters and result as :func:`occlusion_map` (``batch`` occluded images per
    forward pass instead of ``chunk``), plus ``windows``: only these windows (flat
    row-major indices ``i * nx + j``); the result is then (n_outputs, len(windows)).
    About 9 minutes for all 3072 windows of a tile on a 2-core CPU: meant for tests and
    benchmarks.
    """
    x = as_input(tile).to(model_dtype(model))
    flat, ys, xs, (ph, pw), grid = _window_origins(tuple(x.shape[2:]), patch, stride, windows)
    n = len(flat)
    with frozen(model), torch.inference_mode():
        fill_t = _fill(model, fill, x.shape[1]).view(1, -1, 1, 1)
        base = model.feature_map(x)
        pooled = base.double().mean(dim=(2, 3))
        values = torch.empty(n, model.label_std.numel(), dtype=torch.float64)
        for c0 in range(0, n, batch):
            c1 = min(n, c0 + batch)
            xb = x.repeat(c1 - c0, 1, 1, 1).contiguous(memory_format=torch.channels_last)
            for k in range(c1 - c0):
                y, xx = int(ys[c0 + k]), int(xs[c0 + k])
                xb[k, :, y : y + ph, xx : xx + pw] = fill_t[0]
            # the difference of the full feature maps, reduced in float64: the pooled
            # features of two images differ by far less than their float32 rounding
            delta = (model.feature_map(xb) - base).double().mean(dim=(2, 3))
            values[c0:c1] = _difference(model, pooled, delta)
            report(progress, c1 / n, f"occlusion (naive): {c1}/{n} windows")
    return _as_grid(values, grid, windows)
