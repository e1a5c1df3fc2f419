"""The model card dialog: what the embedded models were trained on and how well they do.

:func:`card_summary` reduces the fold cards of an ensemble (``{unit: [card, ...]}``, as in
:attr:`core.predict.Ensemble.cards`) to the facts a user needs — training data, label
source, split, metrics on held-out data per C-rate, date, software version, the command
that reproduces it — and :class:`ModelCardDialog` shows them, with the full cards as JSON
on a second tab. No torch here.
"""

from __future__ import annotations

import html
import json

from PySide6 import QtWidgets

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.report.card import headline_metrics

SYNTHETIC_TEXT = "synthetic, physics-labelled"
"""How the data line reads for models trained on the project's synthetic electrodes."""


def _get(d: dict, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def card_summary(cards: dict[str, list[dict]]) -> dict:
    """The user-facing facts of an ensemble's model cards.

    Returns
    -------
    dict
        ``data``, ``label_source``, ``split``, ``date``, ``version``, ``command``,
        ``model`` (str, ``"—"`` where the card says nothing) and ``units``: per unit
        ``folds``, ``steps``, ``hardware``, ``test_mape``, ``test_r2`` and
        ``test_mape_per_c_rate`` (list of 5) from :func:`core.report.card.headline_metrics`
        (None if unknown), and its ``definition``.
    """
    first = next((c[0] for c in cards.values() if c), {})
    synthetic = bool(first.get("synthetic")) or "synthetic" in str(_get(first, "data", "source"))
    source = _get(first, "data", "source") or first.get("data_note")
    split = _get(first, "data", "split")
    k = _get(first, "data", "k")
    if split and k:
        split = f"{split}, {k}-fold cross-validation (train / validation / test per fold)"
    out = {
        "model": first.get("model", "RateCNN"),
        "data": f"{SYNTHETIC_TEXT} — {source}" if synthetic and source else
                (SYNTHETIC_TEXT if synthetic else source or "—"),
        "label_source": first.get("label_source") or "—",
        "split": split or "—",
        "date": first.get("date") or "—",
        "version": _get(first, "software", "ratescope") or "—",
        "command": first.get("command") or "—",
        "units": {},
    }  # fmt: skip
    for unit, folds in cards.items():
        head = headline_metrics(folds) or {}
        out["units"][unit] = {
            "folds": len(folds),
            "steps": _get(folds[0], "training", "steps_done") if folds else None,
            "hardware": _get(folds[0], "training", "hardware") if folds else None,
            "samples": _get(folds[0], "data", "samples") if folds else None,
            "tiles": _get(folds[0], "data", "tiles") if folds else None,
            "test_mape": head.get("mape"),
            "test_r2": head.get("r2"),
            "test_mape_per_c_rate": head.get("mape_per_output"),
            "definition": head.get("definition", "—"),
        }
    return out


def _fmt(v, spec: str = ".2f", suffix: str = "") -> str:
    return "—" if v is None else f"{v:{spec}}{suffix}"


def card_html(summary: dict) -> str:
    """The summary as a small HTML page (for the dialog, and reusable by reports)."""
    e = html.escape
    rows = [("Training data", summary["data"]), ("Label source", summary["label_source"]),
            ("Split", summary["split"]), ("Date", summary["date"]),
            ("RateScope version", summary["version"]), ("Model", summary["model"])]  # fmt: skip
    parts = ["<h3>Model card</h3>", "<table cellspacing='0' cellpadding='3'>"]
    parts += [f"<tr><td><b>{e(k)}</b></td><td>{e(str(v))}</td></tr>" for k, v in rows]
    parts.append("</table><h4>Accuracy on electrodes the models never saw</h4>"
                 "<table border='1' cellspacing='0' cellpadding='3'><tr><th>Unit</th>"
                 "<th>Folds</th><th>Measured on</th><th>MAPE</th><th>R²</th>"
                 + "".join(f"<th>MAPE {c:g}C</th>" for c in C_RATES) + "</tr>")  # fmt: skip
    for unit, u in summary["units"].items():
        per = u["test_mape_per_c_rate"] or [None] * len(C_RATES)
        parts.append(
            f"<tr><td>{e(UNITS.get(unit, unit))}</td><td>{u['folds']}</td>"
            f"<td>{e(u['definition'])}</td>"
            f"<td>{_fmt(u['test_mape'], '.2f', ' %')}</td><td>{_fmt(u['test_r2'], '.3f')}</td>"
            + "".join(f"<td>{_fmt(v, '.2f', ' %')}</td>" for v in per) + "</tr>")  # fmt: skip
    parts.append("</table>")
    details = [f"{UNITS.get(unit, unit)}: {u['samples'] or '—'} electrodes, {u['tiles'] or '—'}"
               f" tiles, {u['steps'] or '—'} steps on {u['hardware'] or '—'}"
               for unit, u in summary["units"].items()]  # fmt: skip
    parts.append("<p>" + "<br>".join(e(d) for d in details) + "</p>")
    parts.append(f"<p><b>Reproduce:</b> <code>{e(summary['command'])}</code></p>")
    return "".join(parts)


class ModelCardDialog(QtWidgets.QDialog):
    """Summary and full JSON of the model cards of the loaded ensemble."""

    def __init__(self, cards: dict[str, list[dict]], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model card")
        self.resize(760, 560)
        self.summary = card_summary(cards)
        tabs = QtWidgets.QTabWidget()
        self.summary_view = QtWidgets.QTextBrowser()
        self.summary_view.setHtml(card_html(self.summary))
        self.json_view = QtWidgets.QPlainTextEdit(json.dumps(cards, indent=1, default=str))
        self.json_view.setReadOnly(True)
        tabs.addTab(self.summary_view, "Summary")
        tabs.addTab(self.json_view, "Full cards (JSON)")
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)
