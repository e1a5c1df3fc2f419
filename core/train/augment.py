"""Shift and rotation augmentation with mirror fill (paper 1, §2.4), torch only."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def shift_rotate(
    x: torch.Tensor,
    generator: torch.Generator,
    max_shift: float = 0.1,
    max_degrees: float = 5.0,
) -> torch.Tensor:
    """Randomly shift and rotate each image of a batch, filling new borders by mirroring.

    Parameters
    ----------
    x : Tensor
        Images (N, C, H, W), float.
    generator : torch.Generator
        Source of randomness (CPU generator; results are reproducible from its seed).
    max_shift : float
        Largest shift as a fraction of height/width (uniform in ``[-max_shift, max_shift]``).
    max_degrees : float
        Largest rotation in degrees (uniform in ``[-max_degrees, max_degrees]``).

    Returns
    -------
    Tensor
        Same shape and memory format; pixels from outside the image are reflections of the
        image (``grid_sample(padding_mode="reflection")``), never zeros. Sampling is
        bilinear in true pixel geometry (rotation does not shear non-square tiles).
    """
    n, _, h, w = x.shape
    u = torch.rand(n, 3, generator=generator) * 2.0 - 1.0
    angle = u[:, 0] * math.radians(max_degrees)
    tx, ty = u[:, 1] * max_shift * 2.0, u[:, 2] * max_shift * 2.0  # normalised coords
    cos, sin = torch.cos(angle), torch.sin(angle)
    ar = w / h  # rotate in pixel space: scale x and y by the aspect ratio
    theta = torch.stack(
        [
            torch.stack([cos, -sin / ar, tx], dim=1),
            torch.stack([sin * ar, cos, ty], dim=1),
        ],
        dim=1,
    ).to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if x.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)
    return out
