"""Exact incremental recomputation of a CNN feature map after local input changes.

In eval mode everything before global average pooling of :class:`RateCNN` is *local*:
"same" convolutions, ReLU, per-channel affine batch norm and non-overlapping max pooling.
Changing a ``ph x pw`` patch of the input therefore changes only a bounded window of
every later activation. :func:`pooled_deltas` follows that window level by level:

* conv (kernel ``k``, ``r = k // 2``): the changed window grows by ``r`` on each side; its
  new values are a *valid* convolution of a canvas that is the cached original
  activation around it with the previous level's new window pasted in the middle;
* max pool ``s``: the window maps to pooled cells ``floor(y / s)`` ...; the canvas is
  the original activation on the aligned cells with the new window pasted at offset
  ``y mod s`` (batched per offset);
* positions outside the image are zero — exactly what the next convolution's zero
  padding sees — so borders and corners need no special case.

At the last level the difference between the new and the original window, summed,
is the change of the globally pooled features times ``H_L * W_L``. Windows have the same
size for every patch of a level (the worst case over alignments), so all patches are
computed as one batch of small convolutions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ratescope.core.explain.stages import Conv, Pool
from ratescope.core.progress import ProgressFn, report


def _conv(stage: Conv, canvas: torch.Tensor) -> torch.Tensor:
    """Valid convolution of a canvas followed by the stage's element-wise modules.

    A leading ReLU is fused into oneDNN's convolution where that operator exists
    (the same kernel, one pass less over memory).
    """
    post = stage.post
    c = stage.conv
    if post and type(post[0]) is nn.ReLU and canvas.dtype == torch.float32:
        try:
            out = torch.ops.mkldnn._convolution_pointwise(
                canvas, c.weight, c.bias, [0, 0], [1, 1], [1, 1], 1, "relu", [], ""
            )
            post = post[1:]
        except (AttributeError, RuntimeError):
            out = F.conv2d(canvas, c.weight, c.bias)
    else:
        out = F.conv2d(canvas, c.weight, c.bias)
    for m in post:
        out = m(out)
    return out


@dataclass
class _Step:
    """One stage for one alignment class: canvas (start, size) and paste offset, per axis."""

    canvas_y: int
    canvas_x: int
    ch: int
    cw: int
    oy: int
    ox: int


@dataclass
class _Plan:
    """Windows of one alignment class: a lattice of patches with constant geometry."""

    wins: list[tuple[int, int, int, int]]  # per level: (y0, x0, h, w) of the first patch
    steps: list[_Step]
    dys: list[int]  # per level: lattice step of the windows, rows
    dxs: list[int]


def _plan(stages: list[Conv | Pool], y0: int, x0: int, ph: int, pw: int, dy: int, dx: int) -> _Plan:
    wins, steps, dys, dxs = [(y0, x0, ph, pw)], [], [dy], [dx]
    for st in stages:
        y, x, h, w = wins[-1]
        if isinstance(st, Conv):
            r = st.r
            steps.append(_Step(y - 2 * r, x - 2 * r, h + 4 * r, w + 4 * r, 2 * r, 2 * r))
            wins.append((y - r, x - r, h + 2 * r, w + 2 * r))
        else:
            s = st.s
            oy, ox = y % s, x % s
            nh, nw = -(-(oy + h) // s), -(-(ox + w) // s)
            steps.append(_Step(y - oy, x - ox, nh * s, nw * s, oy, ox))
            wins.append(((y - oy) // s, (x - ox) // s, nh, nw))
            dy, dx = dy // s, dx // s
        dys.append(dy)
        dxs.append(dx)
    return _Plan(wins, steps, dys, dxs)


def _padded(a: torch.Tensor, pad: list[int]) -> torch.Tensor:
    """(1, C, H, W) -> zero-padded (H + top + bottom, W + left + right, C), contiguous."""
    top, bottom, left, right = pad
    return F.pad(a[0].permute(1, 2, 0), (0, 0, left, right, top, bottom)).contiguous()


def _lattice(
    hwc: torch.Tensor,
    pad: list[int],
    y: int,
    x: int,
    dy: int,
    dx: int,
    nt: int,
    nu: int,
    h: int,
    w: int,
) -> torch.Tensor:
    """Copies of the ``nt x nu`` windows ``(y + t*dy, x + u*dx, h, w)``: (nt*nu, C, h, w)."""
    hp, wp, c = hwc.shape
    view = hwc.as_strided(
        (nt, nu, h, w, c),
        (dy * wp * c, dx * c, wp * c, c, 1),
        hwc.storage_offset() + (y + pad[0]) * wp * c + (x + pad[2]) * c,
    )
    # always a copy (callers paste into it): reshape alone would return a view of the
    # cache whenever the lattice happens to be viewable (e.g. a single row)
    copy = view.clone(memory_format=torch.contiguous_format)
    return copy.view(nt * nu, h, w, c).permute(0, 3, 1, 2)


def _zero_outside(
    b: torch.Tensor, nt: int, nu: int, y: int, x: int, dy: int, dx: int, hh: int, ww: int
) -> None:
    """Zero, in place, the positions of lattice windows that lie outside ``hh x ww``."""
    v = b.unflatten(0, (nt, nu))
    h, w = v.shape[3:]
    for t in range(nt):
        yt = y + t * dy
        if yt < 0:
            v[t, :, :, : min(h, -yt)] = 0
        if yt + h > hh:
            v[t, :, :, max(0, hh - yt) :] = 0
    for u in range(nu):
        xu = x + u * dx
        if xu < 0:
            v[:, u, :, :, : min(w, -xu)] = 0
        if xu + w > ww:
            v[:, u, :, :, max(0, ww - xu) :] = 0


def pooled_deltas(
    stages: list[Conv | Pool],
    acts: list[torch.Tensor],
    fill: torch.Tensor,
    patch: tuple[int, int],
    stride: tuple[int, int],
    grid: tuple[int, int],
    chunk: int = 256,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Change of the globally pooled features when each grid patch is replaced by ``fill``.

    Parameters
    ----------
    stages : list of Conv / Pool
        From :func:`core.explain.stages.stages_of`.
    acts : list of Tensor
        The original activations: ``acts[0]`` the standardised input (1, C0, H, W),
        ``acts[i + 1] = core.explain.stages.run_stage(stages[i], acts[i])``.
    fill : Tensor, shape (C0,)
        Standardised fill value of the patch.
    patch, stride : (int, int)
        Patch size and step (rows, columns), px.
    grid : (int, int)
        Number of patches (ny, nx); patch ``(i, j)`` starts at ``(i*sy, j*sx)``.
    chunk : int
        Patches per batch (memory about ``chunk`` x 60 kB for RateCNN).
    progress : ProgressFn, optional
        Called per batch; may raise :class:`~core.errors.Cancelled`.

    Returns
    -------
    Tensor, float64, shape (ny, nx, C_L)
        ``mean(new feature map) - mean(original feature map)`` per channel: what a full
        forward pass of each occluded image gives, up to float rounding.

    Notes
    -----
    Patches whose row index agrees modulo ``P = f / gcd(sy, f)`` (``f`` the product of
    the pool sizes) have windows of identical geometry at every level, spaced by
    ``P*sy / f_level``: they form one batch, gathered with strided views.
    """
    (ph, pw), (sy, sx), (ny, nx) = patch, stride, grid
    f = math.prod(st.s for st in stages if isinstance(st, Pool))
    py, px = f // math.gcd(sy, f), f // math.gcd(sx, f)
    plans = {
        (cy, cx): _plan(stages, cy * sy, cx * sx, ph, pw, py * sy, px * sx)
        for cy in range(min(py, ny))
        for cx in range(min(px, nx))
    }
    counts = {k: (len(range(k[0], ny, py)), len(range(k[1], nx, px))) for k in plans}
    pads = []
    for lv, a in enumerate(acts):  # zero margins so that every canvas lies inside
        hh, ww = a.shape[2:]
        top = bottom = left = right = 0
        for k, pl in plans.items():
            nt, nu = counts[k]
            y, x, h, w = (
                ((s := pl.steps[lv]).canvas_y, s.canvas_x, s.ch, s.cw)
                if lv < len(stages)
                else pl.wins[lv]
            )
            top, left = max(top, -y), max(left, -x)
            bottom = max(bottom, y + (nt - 1) * pl.dys[lv] + h - hh)
            right = max(right, x + (nu - 1) * pl.dxs[lv] + w - ww)
        pads.append([top, bottom, left, right])
    cached = [_padded(a, p) for a, p in zip(acts, pads, strict=True)]
    out = torch.empty(ny, nx, acts[-1].shape[1], dtype=torch.float64)
    h_l, w_l = acts[-1].shape[2:]
    done, total = 0, ny * nx
    for (cy, cx), pl in plans.items():
        nt_all, nu = counts[(cy, cx)]
        rows = max(1, chunk // nu)
        for t0 in range(0, nt_all, rows):
            nt = min(rows, nt_all - t0)
            b = fill.view(1, -1, 1, 1).expand(nt * nu, -1, ph, pw)
            for lv, st in enumerate(stages):
                s = pl.steps[lv]
                canvas = _lattice(
                    cached[lv],
                    pads[lv],
                    s.canvas_y + t0 * pl.dys[lv],
                    s.canvas_x,
                    pl.dys[lv],
                    pl.dxs[lv],
                    nt,
                    nu,
                    s.ch,
                    s.cw,
                )
                h, w = b.shape[2:]
                canvas[:, :, s.oy : s.oy + h, s.ox : s.ox + w] = b
                b = _conv(st, canvas) if isinstance(st, Conv) else F.max_pool2d(canvas, st.s)
                y, x = pl.wins[lv + 1][:2]
                _zero_outside(
                    b,
                    nt,
                    nu,
                    y + t0 * pl.dys[lv + 1],
                    x,
                    pl.dys[lv + 1],
                    pl.dxs[lv + 1],
                    *acts[lv + 1].shape[2:],
                )
            y, x, h, w = pl.wins[-1]
            orig = _lattice(
                cached[-1], pads[-1], y + t0 * pl.dys[-1], x, pl.dys[-1], pl.dxs[-1], nt, nu, h, w
            )
            d = (b - orig).double().sum(dim=(2, 3)) / (h_l * w_l)
            out[cy + py * t0 :: py, cx::px][:nt] = d.view(nt, nu, -1)
            done += nt * nu
            report(progress, done / total, f"occlusion: {done}/{total} windows")
    return out
