"""Learning-rate schedule of paper 1: 10 % linear warm-up 1e-5 -> 1e-3, then decay to 1e-5."""

from __future__ import annotations

import math


def lr_at(
    step: int,
    max_steps: int = 5000,
    lr_min: float = 1e-5,
    lr_max: float = 1e-3,
    warmup_frac: float = 0.1,
    decay: str = "cosine",
) -> float:
    """Learning rate for the 0-based ``step`` of ``max_steps``.

    Linear from ``lr_min`` at step 0 to ``lr_max`` at the end of warm-up
    (``round(warmup_frac * max_steps)`` steps), then ``"cosine"`` or ``"linear"`` decay
    to ``lr_min`` at the last step (``max_steps - 1``); constant ``lr_min`` beyond.
    """
    if max_steps < 1:
        raise ValueError("max_steps must be >= 1")
    warm = max(1, round(warmup_frac * max_steps))
    if step < warm:
        return lr_min + (lr_max - lr_min) * step / warm
    span = max(1, max_steps - 1 - warm)
    t = min(1.0, (step - warm) / span)
    if decay == "cosine":
        f = 0.5 * (1.0 + math.cos(math.pi * t))
    elif decay == "linear":
        f = 1.0 - t
    else:
        raise ValueError(f"unknown decay {decay!r}")
    return lr_min + (lr_max - lr_min) * f
