"""Augmentation, torch only: shift and rotation with mirror fill (paper 1, §2.4), and an
optional photometric jitter (not in the paper) for images unlike the training set's."""

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


def photometric(x: torch.Tensor, generator: torch.Generator, strength: float = 0.3,
                gray_p: float = 0.3) -> torch.Tensor:  # fmt: skip
    """Random contrast, brightness and gamma per image, and sometimes gray: micrographs
    from other microscopes, stains and exposure settings.

    Off in the paper's recipe (``TrainConfig.photometric = 0``); meant for models that must
    carry over to images unlike the training set's (another lab's microscope, another
    renderer). Per image, with ``u`` uniform in ``[-1, 1]``: gray (channel mean) with
    probability ``gray_p``; gamma ``exp(strength * u)``; contrast about the image mean
    ``exp(strength * u)``; brightness ``+ strength / 3 * u``; clipped to ``[0, 1]``.

    Parameters
    ----------
    x : Tensor
        Images (N, C, H, W), float in [0, 1].
    generator : torch.Generator
        Source of randomness (CPU generator).
    strength : float
        0 returns ``x`` unchanged.
    """
    if strength <= 0:
        return x
    n = x.shape[0]
    u = (torch.rand(n, 4, generator=generator) * 2.0 - 1.0).to(x.device, x.dtype)
    gray = (torch.rand(n, generator=generator) < gray_p).to(x.device)
    view = (n, 1, 1, 1)
    out = torch.where(gray.view(view), x.mean(dim=1, keepdim=True).expand_as(x), x)
    out = out.clamp(0.0, 1.0).pow(torch.exp(strength * u[:, 0]).view(view))
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * torch.exp(strength * u[:, 1]).view(view) + mean
    out = (out + (strength / 3.0) * u[:, 2].view(view)).clamp_(0.0, 1.0)
    if x.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)
    return out
