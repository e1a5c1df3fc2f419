"""Side panels of the 3D workspace: latent features, the paper's statistics, phase fractions.

The paper's reference values (Faraji Niri et al. 2022) sit beside RateScope's in
the statistics table, so a reader can compare at a glance.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

PAPER = {"train_mse": 0.068, "val_mse": 0.071, "fit_p": 0.095, "recon_p": 0.473}
"""Best results reported by the paper (case study with l = 24, stride 1)."""
PHASE_NAMES = {
    "pore": "Pore",
    "active": "Active material",
    "carbon_binder": "Carbon-binder",
    "other": "Other codes",
}


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _fit_height(table: QtWidgets.QTableWidget) -> None:
    """Make a table exactly as tall as its rows (no empty area below them)."""
    table.resizeRowsToContents()
    h = table.horizontalHeader().sizeHint().height() + table.verticalHeader().length()
    table.setFixedHeight(h + 2 * table.frameWidth() + 2)


class LatentChart(pg.PlotWidget):
    """Bar chart of the latent features of the current window."""

    def __init__(self, n: int = 10, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent, background="w")
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.setTitle("Latent features (current window)")
        self.getAxis("bottom").setTicks([[(i + 1, str(i + 1)) for i in range(n)]])
        self.setLabel("bottom", "feature")
        self.addLine(y=0, pen=pg.mkPen((120, 120, 120)))
        self.bars = pg.BarGraphItem(
            x=np.arange(1, n + 1), height=np.zeros(n), width=0.7, brush=(60, 120, 200)
        )
        self.addItem(self.bars)
        self.setXRange(0.4, n + 0.6, padding=0)

    def set_values(self, values: np.ndarray | None) -> None:
        """Bar heights (``None`` clears the chart)."""
        n = len(self.bars.opts["x"])
        h = np.zeros(n) if values is None else np.asarray(values, dtype=float)
        self.bars.setOpts(x=np.arange(1, h.size + 1), height=h)
        top = float(np.max(np.abs(h))) if h.size else 1.0
        self.setYRange(-top * 1.1 if h.min(initial=0) < 0 else 0, top * 1.1 or 1.0)

    def values(self) -> np.ndarray:
        """The heights shown, in feature order."""
        return np.asarray(self.bars.opts["height"], dtype=float)


class StatsTable(QtWidgets.QTableWidget):
    """Reconstruction MSE and t-test p-values beside the paper's values."""

    ROWS = (
        "Window (z, y, x)",
        "MSE, this window",
        "MSE, this block",
        "MSE train / validation (card)",
        "p, train vs validation MSE (card)",
        "MSE held-out volumes (card)",
        "MSE train / val, paper's split (card)",
        "p, original vs reconstructed (window)",
    )
    RECON_P = 7

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(len(self.ROWS), 2, parent)
        self.setHorizontalHeaderLabels(["RateScope", "Paper"])
        self.setVerticalHeaderLabels(list(self.ROWS))
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(90)
        self.verticalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.ResizeToContents
        )
        self.setWordWrap(False)
        self.set_paper()
        _fit_height(self)

    def _put(self, row: int, col: int, text: str, tip: str = "") -> None:
        item = QtWidgets.QTableWidgetItem(text)
        item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        if tip:
            item.setToolTip(tip)
        self.setItem(row, col, item)

    def set_paper(self) -> None:
        self._put(3, 1, f"{PAPER['train_mse']} / {PAPER['val_mse']}")
        self._put(4, 1, f"{PAPER['fit_p']}")
        self._put(6, 1, f"{PAPER['train_mse']} / {PAPER['val_mse']}")
        self._put(self.RECON_P, 1, f"{PAPER['recon_p']}")

    def set_card(self, card: dict) -> None:
        """Training metrics from the model card (``metrics``: train/val MSE, fit t-test)."""
        m = card.get("metrics") or {}
        fit = m.get("fit_ttest") or {}
        tr, va = m.get("train_mse"), m.get("val_mse")
        self._put(
            3,
            0,
            f"{_fmt(tr)} / {_fmt(va)}",
            _data_kind(card.get("training_data")),
        )
        self._put(
            4,
            0,
            _fmt(fit.get("pvalue")),
            "scipy.stats.ttest_ind, training vs "
            "validation per-window MSE; p > 0.05: no over- or under-fitting",
        )
        ho = m.get("heldout") or {}
        self._put(
            5,
            0,
            _fmt(ho.get("mse")),
            f"volumes never used in training; predicting each window's own mean gives "
            f"{_fmt(ho.get('predict_mean_mse'))}"
            if ho
            else "",
        )
        pp = card.get("paper_protocol") or {}
        self._put(
            6,
            0,
            f"{_fmt(pp.get('train_mse'))} / {_fmt(pp.get('val_mse'))}" if pp else "—",
            "the paper's protocol (validation windows drawn from the training volumes, "
            f"overlapping training windows): held-out volumes {_fmt(pp['heldout'].get('mse'))}"
            " — memorised"
            if pp
            else "",
        )

    def set_window(self, window, mse: float | None, block_mse: float | None, test) -> None:
        """The current window's corner, its MSE, the block's MSE and its t-test."""
        self._put(0, 0, "—" if window is None else f"{window.z0}, {window.y0}, {window.x0}")
        self._put(1, 0, _fmt(mse))
        self._put(2, 0, _fmt(block_mse))
        tip = (
            ""
            if test is None
            else (
                f"ttest_ind_from_stats: original mean {test.mean_a:.4f}, reconstructed "
                f"{test.mean_b:.4f}, t = {test.statistic:.3f}; p > 0.05: means not different"
            )
        )
        self._put(self.RECON_P, 0, _fmt(None if test is None else test.pvalue), tip)

    def text(self, row: int, col: int = 0) -> str:
        item = self.item(row, col)
        return item.text() if item is not None else ""


class PhaseTable(QtWidgets.QTableWidget):
    """Volume fractions of the phases of a label volume."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(0, 1, parent)
        self.setHorizontalHeaderLabels(["Volume fraction"])
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)

    def set_fractions(self, fractions: dict | None, note: str = "") -> None:
        """``{phase: fraction}`` (``None``: not a label volume, ``note`` says why)."""
        items = (
            []
            if fractions is None
            else [(k, v) for k, v in fractions.items() if k != "other" or v > 0]
        )
        self.setRowCount(max(len(items), 1))
        if not items:
            self.setVerticalHeaderLabels([""])
            self.setItem(0, 0, QtWidgets.QTableWidgetItem(note or "—"))
            _fit_height(self)
            return
        self.setVerticalHeaderLabels([PHASE_NAMES.get(k, k) for k, _ in items])
        for row, (_, v) in enumerate(items):
            item = QtWidgets.QTableWidgetItem(f"{100 * v:.2f} %")
            item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.setItem(row, 0, item)
        _fit_height(self)


class ResultsPanel(QtWidgets.QWidget):
    """The row under the views: latent bars | window, MSE and statistics | phase fractions."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.chart = LatentChart()
        self.window_combo = QtWidgets.QComboBox()
        self.window_combo.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.window_combo.setToolTip(
            "The 224 × 224 window whose latents and statistics are "
            "shown; a click on the images picks it too"
        )
        self.mse_label = QtWidgets.QLabel("MSE —")
        self.mse_label.setStyleSheet("font-weight: bold")
        self.mse_label.setWordWrap(True)
        self.table = StatsTable()
        self.phases = PhaseTable()
        stats = QtWidgets.QVBoxLayout()
        form = QtWidgets.QFormLayout()
        form.addRow("In-plane window:", self.window_combo)
        stats.addLayout(form)
        stats.addWidget(self.mse_label)
        stats.addWidget(self.table)
        stats.addStretch(1)
        phases = QtWidgets.QVBoxLayout()
        phases.addWidget(QtWidgets.QLabel("Phase fractions (whole volume)"))
        phases.addWidget(self.phases)
        phases.addStretch(1)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.chart, 3)
        row.addLayout(stats, 3)
        row.addLayout(phases, 2)
        self.setFixedHeight(250)


def _data_kind(data) -> str:
    """The model card's training data as a tooltip: a string, or a dict's ``kind``."""
    if isinstance(data, dict):
        return str(data.get("kind", ""))
    return data if isinstance(data, str) else ""
