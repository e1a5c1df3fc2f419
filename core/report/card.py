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


def card_lines(cards: dict[str, dict]) -> list[str]:
    """Short human-readable lines summarising the model cards of each unit.

    The first line always states whether the training data were synthetic.
    """
    if not cards:
        return ["No model card available."]
    lines = [SYNTHETIC_NOTE if any(is_synthetic(c) for c in cards.values()) else LAB_NOTE]
    for unit, card in cards.items():
        symbol = UNITS.get(unit, card.get("unit_symbol", unit))
        # independent held-out electrodes (embedded models) before the fold's own test split
        heldout = card.get("heldout", {}).get("ensemble", {})
        test = heldout or card.get("metrics", {}).get("test", {})
        data = card.get("data", {})
        parts = [f"{unit} ({symbol}): {card.get('model', 'RateCNN')}"]
        if data.get("k"):
            k, done = data["k"], len(card.get("heldout", {}).get("single_model_mape", []))
            trained = f" ({done} of {k} folds trained)" if 0 < done < k else ""
            parts.append(f"{k}-fold cross-validation{trained}")
        if "mape" in test:
            where = f"{heldout['n']} held-out electrodes" if heldout.get("n") else "held-out"
            parts.append(f"MAPE {test['mape']:.2f} % on {where}")
        if "r2" in test:
            parts.append(f"R² {test['r2']:.3f}")
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
