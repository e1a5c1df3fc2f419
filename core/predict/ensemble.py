"""The embedded ensemble: k fold models per unit, their cards and OOD statistics."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from ratescope.core.constants import UNITS
from ratescope.core.errors import RateScopeError
from ratescope.core.models.ratecnn import RateCNN
from ratescope.core.models.store import load_model, load_tree
from ratescope.core.predict.ood import OODModel
from ratescope.core.resources import MODELS

_FOLD = re.compile(r"^(?P<unit>[a-z]+)_fold(?P<fold>\d+)\.safetensors$")


def ood_path(models_dir: str | Path, unit: str) -> Path:
    """File of ``unit``'s out-of-distribution statistics inside ``models_dir``."""
    return Path(models_dir) / f"{unit}_ood.safetensors"


@dataclass
class Ensemble:
    """Fold models per unit, in fold order.

    Attributes
    ----------
    models : dict of str to list of RateCNN
        ``{"specific": [fold0, ...], "volumetric": [...]}`` in eval mode.
    cards : dict of str to list of dict
        The model card of each model.
    ood : dict of str to OODModel or None
        Feature statistics for the out-of-distribution score (None when missing).
    models_dir : Path
    """

    models: dict[str, list[RateCNN]]
    cards: dict[str, list[dict]]
    ood: dict[str, OODModel | None] = field(default_factory=dict)
    models_dir: Path | None = None

    @cached_property
    def name(self) -> str:
        """What predictions, reports and records call these models
        (:func:`core.models.registry.describe` of :attr:`models_dir`, read once)."""
        from ratescope.core.models.registry import describe

        if self.models_dir is None:
            return "models given in memory"
        return describe(self.models_dir)

    @property
    def units(self) -> list[str]:
        return [u for u in UNITS if u in self.models]

    def card(self, unit: str) -> dict:
        """The first fold's model card (data, metrics, provenance) of ``unit``."""
        return self.cards[unit][0]


def load_ensemble(models_dir: str | Path = MODELS, units=tuple(UNITS),
                  device: str | torch.device = "cpu") -> Ensemble:  # fmt: skip
    """Load every ``<unit>_fold<i>.safetensors`` of ``models_dir`` (never unpickles).

    Raises
    ------
    RateScopeError
        No model for a requested unit, or a file that is not a RateScope model.
    """
    models_dir = Path(models_dir)
    found: dict[str, dict[int, Path]] = {}
    for p in sorted(models_dir.glob("*_fold*.safetensors")):
        m = _FOLD.match(p.name)
        if m and m["unit"] in units:
            found.setdefault(m["unit"], {})[int(m["fold"])] = p
    models: dict[str, list[RateCNN]] = {}
    cards: dict[str, list[dict]] = {}
    ood: dict[str, OODModel | None] = {}
    for unit in units:
        if unit not in found:
            raise RateScopeError(f"no {unit} model in the folder", models_dir)
        pairs = [load_model(found[unit][f], device) for f in sorted(found[unit])]
        models[unit] = [m for m, _ in pairs]
        cards[unit] = [c for _, c in pairs]
        op = ood_path(models_dir, unit)
        ood[unit] = OODModel.from_tree(load_tree(op)) if op.is_file() else None
        if ood[unit] is not None and len(ood[unit].mean) != len(models[unit]):
            ood[unit] = None  # statistics of another ensemble: unusable
    return Ensemble(models, cards, ood, models_dir)
