"""Lookahead (Zhang et al. 2019) around RAdam, the MAPE loss and the L2 parameter groups."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ratescope.core.models.ratecnn import decay_parameter_names


class Lookahead:
    """Lookahead wrapper: ``k`` steps of the inner optimiser, then slow weights move.

    Every ``k`` inner steps the slow weights ``phi`` move towards the fast weights
    ``theta``: ``phi <- phi + alpha * (theta - phi)``, and the fast weights are reset to
    ``phi``. The inner optimiser's state (moments) is kept as it is.

    Parameters
    ----------
    inner : torch.optim.Optimizer
        The fast optimiser (RAdam in the paper).
    k : int
        Synchronisation period (6 in the paper).
    alpha : float
        Slow step size (0.5 in the paper).
    """

    def __init__(self, inner: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5):
        if k < 1 or not 0.0 < alpha <= 1.0:
            raise ValueError("Lookahead needs k >= 1 and 0 < alpha <= 1")
        self.inner, self.k, self.alpha = inner, int(k), float(alpha)
        self.counter = 0
        self.slow = [[p.detach().clone() for p in group["params"]] for group in inner.param_groups]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The inner optimiser's parameter groups (set ``lr`` here)."""
        return self.inner.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        """One inner step; every ``k``-th call also synchronises slow and fast weights."""
        self.inner.step()
        self.counter += 1
        if self.counter % self.k:
            return
        for group, slows in zip(self.inner.param_groups, self.slow, strict=True):
            for p, s in zip(group["params"], slows, strict=True):
                s.add_(p.detach() - s, alpha=self.alpha)
                p.copy_(s)

    def state_dict(self) -> dict[str, Any]:
        """Inner state plus slow weights and the step counter (tensors and plain data)."""
        return {
            "inner": self.inner.state_dict(),
            "slow": [[s.clone() for s in slows] for slows in self.slow],
            "counter": self.counter,
            "k": self.k,
            "alpha": self.alpha,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.counter = int(state["counter"])
        self.k, self.alpha = int(state["k"]), float(state["alpha"])
        with torch.no_grad():
            for slows, saved in zip(self.slow, state["slow"], strict=True):
                for s, v in zip(slows, saved, strict=True):
                    s.copy_(v)


def make_optimizer(
    model: nn.Module,
    lr: float = 1e-5,
    weight_decay: float = 1e-4,
    k: int = 6,
    alpha: float = 0.5,
) -> Lookahead:
    """Lookahead(RAdam) with the paper's L2 penalty on conv/dense weights only.

    Parameters
    ----------
    model : nn.Module
        The network (unwrapped, or a DDP wrapper's ``.module``).
    lr : float
        Initial learning rate (the schedule sets it every step).
    weight_decay : float
        L2 coefficient, added to the gradient (coupled, like a loss penalty).
    k, alpha : int, float
        Lookahead period and slow step size.
    """
    names = decay_parameter_names(model)
    decay = [p for n, p in model.named_parameters() if n in names]
    other = [p for n, p in model.named_parameters() if n not in names]
    inner = torch.optim.RAdam(
        [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=lr,
        foreach=False,  # same per-parameter arithmetic on every rank and after resume
    )
    return Lookahead(inner, k=k, alpha=alpha)


def mape(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean absolute percentage error in percent (Keras' definition).

    NaN targets (C-rates not measured) are left out: the mean runs over the measured
    values only, and they pass no gradient.
    """
    measured = ~torch.isnan(target)
    if bool(measured.all()):
        return 100.0 * ((pred - target).abs() / target.abs().clamp_min(eps)).mean()
    safe = torch.where(measured, target, torch.ones_like(target))
    ape = torch.where(measured, (pred - safe).abs() / safe.abs().clamp_min(eps), 0.0)
    return 100.0 * ape.sum() / measured.sum().clamp_min(1)
