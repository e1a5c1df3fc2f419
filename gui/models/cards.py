"""Model cards as the manager shows them (no Qt): one table row and one HTML page per
:class:`core.models.registry.ModelEntry`."""

from __future__ import annotations

import html
from pathlib import PurePath

from ratescope.core.constants import UNITS


def _num(value, fmt: str = "{:.2f}") -> str | None:
    try:
        return fmt.format(float(value))
    except (TypeError, ValueError):
        return None


def unit_card(entry, unit: str) -> dict:
    """``entry.card["units"][unit]`` (an empty dict when missing)."""
    units = entry.card.get("units") if isinstance(entry.card, dict) else None
    card = units.get(unit) if isinstance(units, dict) else None
    return card if isinstance(card, dict) else {}


def held_out(entry, unit: str) -> tuple[float | None, float | None]:
    """(this model's, the embedded model's) MAPE on the lab's held-out electrodes."""
    h = unit_card(entry, unit).get("held_out") or {}
    mine = _num(h.get("mape"), "{}")
    base = _num(h.get("embedded_mape"), "{}")
    return (None if mine is None else float(mine)), (None if base is None else float(base))


def mape_text(entry) -> str:
    """``"Ah/kg 3.10 % (12.40 %)"`` per unit, for the list: this model's held-out MAPE
    and, in brackets, the embedded model's on the same electrodes."""
    parts = []
    for unit in entry.units:
        mine, base = held_out(entry, unit)
        if mine is None:
            continue
        text = f"{UNITS.get(unit, unit)} {mine:.2f} %"
        if base is not None and not entry.embedded:
            text += f" ({base:.2f} %)"
        parts.append(text)
    return "; ".join(parts) or "—"


def training_text(training: dict) -> str:
    """``"dense head fine-tuned from the embedded ensemble, 600 steps"``."""
    mode = {"head": "dense head", "full": "all layers"}.get(training.get("mode"), "")
    if training.get("init") == "embedded":
        text = f"{mode} fine-tuned".lstrip() + " from the embedded ensemble"
    else:
        text = "trained from scratch"
    if training.get("steps"):
        text += f", {training['steps']} steps per fold"
    if training.get("device"):
        text += f" on {training['device']}"
    return text


def kind_text(entry) -> str:
    return "embedded" if entry.embedded else "user"


def _data_text(data) -> str:
    """``"6 electrodes, 18 tiles (dataset.h5, measured.csv)"``."""
    if isinstance(data, str):
        return html.escape(data)
    if not isinstance(data, dict):
        return "—"
    bits = []
    n = data.get("electrodes", data.get("samples"))
    if n is not None:
        bits.append(f"{n} electrodes")
    if data.get("tiles") is not None:
        bits.append(f"{data['tiles']} tiles")
    files = [PurePath(str(data["source"])).name] if data.get("source") else []
    csv = str(data.get("measured_csv") or "")
    if csv.lower().endswith(".csv"):
        files.append(PurePath(csv).name)
    text = ", ".join(bits)
    if files:
        named = ", ".join(html.escape(f) for f in files)
        text = f"{text} ({named})" if text else named
    return text or "—"


def card_html(entry, active: bool = False) -> str:
    """The card page: what the model is, its data and split, and per unit the MAPE on the
    held-out electrodes beside the embedded model's on the same electrodes."""
    e = html.escape
    title = e(entry.name) + (" <span style='color:#2a7a2a'>(active)</span>" if active else "")
    rows = [
        ("Kind", "embedded with RateScope" if entry.embedded else "trained by your lab"),
        ("Created", e(entry.created or "—")),
        ("Units", ", ".join(f"{u} ({UNITS.get(u, u)})" for u in entry.units) or "—"),
        ("Folder", f"<tt>{e(str(entry.path))}</tt>"),
    ]
    top = entry.card.get("data") if isinstance(entry.card, dict) else None
    if top:
        rows.insert(1, ("Data", _data_text(top)))
    training = entry.card.get("training") if isinstance(entry.card, dict) else None
    if isinstance(training, dict) and training.get("init"):
        rows.insert(1, ("Training", e(training_text(training))))
    out = [f"<h3 style='margin-bottom:4px'>{title}</h3><table cellspacing=2>"]
    out += [f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows]
    out.append("</table>")
    for unit in entry.units:
        uc = unit_card(entry, unit)
        mine, base = held_out(entry, unit)
        out.append(f"<h4 style='margin-bottom:2px'>{e(unit.capitalize())} capacity "
                   f"({UNITS.get(unit, unit)})</h4><table cellspacing=2>")  # fmt: skip
        lines = [("Data", _data_text(uc.get("data")))]
        split, folds = uc.get("split"), uc.get("folds")
        if split or folds:
            lines.append(("Split", e(str(split) if split else f"{folds} folds")))
        if mine is not None:
            n = (uc.get("held_out") or {}).get("electrodes")
            if entry.embedded:
                what = "held-out synthetic electrodes"
            else:
                what = f"this model, {n} held-out electrodes" if n else "this model"
            lines.append(("Held-out MAPE", f"<b>{mine:.2f} %</b> ({what})"))
        if base is not None:
            lines.append(("Embedded model", f"{base:.2f} % on the same electrodes"))
        out += [f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in lines]
        out.append("</table>")
    return "".join(out)
