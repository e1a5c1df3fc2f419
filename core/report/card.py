"""Model-card summary lines for reports: what the model is and what it was trained on."""

from __future__ import annotations

from ratescope.core.constants import UNITS

SYNTHETIC_NOTE = (
    "The embedded model was trained on synthetic, physics-labelled data "
    "(generated micrographs, DFN half-cell labels), not on measured electrodes."
)
LAB_NOTE = "The model was trained on the lab's own images and measured capacities."


def is_synthetic(card: dict) -> bool:
    """True when the card says (or does not deny) that the training data were synthetic."""
    if "synthetic" in card:
        return bool(card["synthetic"])
    return "synthetic" in str(card.get("data", {}).get("source", "synthetic")).lower()


HEADLINE = "pooled held-out electrodes"
"""What the one quoted accuracy figure is: the ensemble's prediction on electrodes none of
its models was trained on, errors pooled over the electrodes (not averaged over folds)."""


def headline_metrics(folds: list[dict]) -> dict | None:
    """The one accuracy figure of a unit's models, shown the same in the GUI, the PDF and
    the README: ``{"mape", "r2", "mape_per_output", "n", "definition"}`` or None.

    The ensemble's scores on pooled held-out electrodes (the cards' ``heldout.ensemble``)
    when the cards have them; else (a lab's models) the mean over the folds' own test
    splits, and the definition says so.
    """
    for card in folds:
        held = card.get("heldout", {}).get("ensemble", {})
        if "mape" in held:
            n = held.get("n")
            where = f"{n} held-out electrodes" if n else "held-out electrodes"
            return {"mape": held["mape"], "r2": held.get("r2"),
                    "mape_per_output": held.get("mape_per_output"), "n": n,
                    "definition": f"ensemble on {where}, pooled"}  # fmt: skip
    tests = [c["metrics"]["test"] for c in folds if "mape" in c.get("metrics", {}).get("test", {})]
    if not tests:
        return None

    def mean(key):
        values = [t[key] for t in tests if isinstance(t.get(key), (int, float))]
        return sum(values) / len(values) if values else None

    per = [t["mape_per_output"] for t in tests if len(t.get("mape_per_output", [])) == 5]
    per_rate = [sum(r[i] for r in per) / len(per) for i in range(5)] if per else None
    return {"mape": mean("mape"), "r2": mean("r2"), "mape_per_output": per_rate, "n": None,
            "definition": "the fold's own test split" if len(tests) == 1
            else f"mean over {len(tests)} folds' test splits"}  # fmt: skip


def card_lines(cards: dict[str, dict]) -> list[str]:
    """Short human-readable lines summarising the model cards of each unit.

    The first line always states whether the training data were synthetic.
    """
    if not cards:
        return ["No model card available."]
    lines = [SYNTHETIC_NOTE if any(is_synthetic(c) for c in cards.values()) else LAB_NOTE]
    for unit, card in cards.items():
        symbol = UNITS.get(unit, card.get("unit_symbol", unit))
        data = card.get("data", {})
        parts = [f"{unit} ({symbol}): {card.get('model', 'RateCNN')}"]
        if data.get("k"):
            k, done = data["k"], len(card.get("heldout", {}).get("single_model_mape", []))
            trained = f" ({done} of {k} folds trained)" if 0 < done < k else ""
            parts.append(f"{k}-fold cross-validation{trained}")
        head = headline_metrics([card])
        if head is not None:
            parts.append(f"MAPE {head['mape']:.2f} % ({head['definition']})")
            if head["r2"] is not None:
                parts.append(f"R² {head['r2']:.3f}")
        if card.get("date"):
            parts.append(f"trained {card['date']}")
        version = card.get("software", {}).get("ratescope")
        if version:
            parts.append(f"RateScope {version}")
        lines.append(", ".join(parts))
    source = next((c.get("label_source") for c in cards.values() if c.get("label_source")), None)
    if source:
        lines.append(f"Labels: {source}")
    return lines
