"""The local stages of a RateCNN's convolutional part, as fast occlusion and the
hand-written guided backward pass see it.

In eval mode everything before global average pooling of :class:`RateCNN` is a chain of
"same" convolutions, each followed by element-wise modules (ReLU, per-channel affine
batch norm), and non-overlapping max pools. :func:`stages_of` lists them (and refuses
anything else); :func:`run_stage` applies one as the model does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

_ELEMENTWISE = (nn.ReLU, nn.BatchNorm2d, nn.LeakyReLU, nn.Identity, nn.Dropout, nn.Dropout2d)


@dataclass
class Conv:
    """A "same" convolution followed by element-wise modules (ReLU, eval batch norm)."""

    conv: nn.Conv2d
    post: list[nn.Module] = field(default_factory=list)

    @property
    def r(self) -> int:
        return self.conv.kernel_size[0] // 2


@dataclass
class Pool:
    """Non-overlapping ``s x s`` max pooling without padding (floor mode)."""

    s: int


def stages_of(model: nn.Module) -> list[Conv | Pool]:
    """The local stages of a :class:`~core.models.ratecnn.RateCNN` up to its feature map.

    Raises
    ------
    ValueError
        A module that is not a "same" odd square convolution with stride 1, an
        element-wise module, or a non-overlapping max pool without padding.
    """
    seq = [*model.block1, model.pool, *model.block2, model.pool, *model.block3]
    stages: list[Conv | Pool] = []
    for m in seq:
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size
            if (
                k[0] != k[1]
                or k[0] % 2 == 0
                or m.stride != (1, 1)
                or m.dilation != (1, 1)
                or m.padding != (k[0] // 2, k[1] // 2)
                or m.padding_mode != "zeros"
            ):
                raise ValueError(f"not a 'same' stride-1 odd square convolution: {m}")
            stages.append(Conv(m))
        elif isinstance(m, _ELEMENTWISE):
            if not stages or not isinstance(stages[-1], Conv):
                raise ValueError(f"element-wise {m} must follow a convolution")
            stages[-1].post.append(m)
        elif isinstance(m, nn.MaxPool2d):
            s = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            stride = m.stride if isinstance(m.stride, int) else m.stride[0]
            if (
                stride != s
                or m.padding not in (0, (0, 0))
                or m.dilation not in (1, (1, 1))
                or m.ceil_mode
            ):
                raise ValueError(f"not a non-overlapping max pool: {m}")
            stages.append(Pool(int(s)))
        else:
            raise ValueError(f"fast occlusion does not know how to localise {m}")
    return stages


def run_stage(stage: Conv | Pool, a: torch.Tensor) -> torch.Tensor:
    """Apply one stage to a full activation (N, C, H, W), as the model does."""
    if isinstance(stage, Pool):
        return F.max_pool2d(a, stage.s)
    out = F.conv2d(a, stage.conv.weight, stage.conv.bias, padding=stage.r)
    for m in stage.post:
        out = m(out)
    return out
