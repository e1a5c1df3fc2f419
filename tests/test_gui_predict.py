"""Prediction panel driven like a user: open the sample, accept, read the curves and table,
type and load measured values, see the OOD warning and the model card."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _gui_helpers import shown_window
from PySide6 import QtCore

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.resources import MODELS, SAMPLE_MOSAIC
from ratescope.gui.predict.measured import read_measured_csv
from ratescope.gui.predict.panel import MEASURED_COLUMN, PREDICTED_COLUMN, value_text

TIMEOUT_MS = 60_000
LABEL_MEAN = np.array([150.0, 138.0, 126.0, 115.0, 95.0])


def embedded_present() -> bool:
    return all(any(MODELS.glob(f"{u}_fold*.safetensors")) for u in UNITS)


def make_tiny_ensemble(folder, k=2):
    """A real 2-fold ensemble per unit (untrained conv weights, decreasing label scale)."""
    import torch

    from ratescope.core.models.ratecnn import RateCNN
    from ratescope.core.models.store import save_model

    torch.manual_seed(0)
    for unit, scale in (("specific", 1.0), ("volumetric", 2.6)):
        for f in range(k):
            m = RateCNN().eval()
            m.set_normalisation([0.5] * 3, [0.2] * 3, LABEL_MEAN * scale, np.full(5, 3.0))
            torch.nn.init.normal_(m.output.weight, std=0.3)
            card = {"unit": unit, "fold": f, "synthetic": True, "date": "2025-01-01",
                    "label_source": "DFN half-cell model (PyBaMM)",
                    "data": {"source": "synthetic mosaics", "split": "group-wise (by sample)",
                             "k": k, "samples": 40, "tiles": 400},
                    "software": {"ratescope": "0.0.test"},
                    "metrics": {"test": {"mape": 1.2 + f, "r2": 0.97,
                                         "mape_per_output": [1.0, 1.1, 1.2, 1.3, 1.4]}},
                    }  # fmt: skip
            save_model(folder / f"{unit}_fold{f}.safetensors", m, card)
    return folder


@pytest.fixture
def models_dir(tmp_path_factory):
    if embedded_present():
        return MODELS
    return make_tiny_ensemble(tmp_path_factory.mktemp("models"))


@pytest.fixture
def window(qtbot, tmp_path, models_dir):
    yield from shown_window(
        qtbot, tmp_path, (1500, 950), models_dir=models_dir, timeout_ms=TIMEOUT_MS
    )


def table_text(panel, row, col):
    return panel.table.item(row, col).text()


def test_sample_prediction_curves_table_measured_and_csv(qtbot, window, tmp_path):
    ctl = window.prediction
    qtbot.waitUntil(lambda: ctl.ensemble is not None, timeout=TIMEOUT_MS)  # background load
    assert ctl.load_error is None
    with qtbot.waitSignal(window.alignment.alignment_changed, timeout=TIMEOUT_MS):
        window.open_path(SAMPLE_MOSAIC)
    partials = []
    ctl.prediction_changed.connect(partials.append)
    window.alignment.accept()
    qtbot.waitUntil(
        lambda: ctl.prediction is not None and ctl.prediction.complete and not ctl.working(),
        timeout=TIMEOUT_MS,
    )
    pred = ctl.prediction
    folds = len(ctl.ensemble.models["specific"])
    # first answer from one fold, then refined to the whole ensemble
    first = partials[0]
    assert first.units["specific"].folds_done == 1 and first.complete == (folds == 1)
    assert partials[-1] is pred and pred.units["specific"].folds_done == folds
    panel = ctl.panel
    assert ctl.dock.isVisible() and ctl.alignment is window.alignment.accepted
    n_kept = len(window.alignment.accepted.kept)
    for unit, plot in panel.plots.items():
        up = pred.units[unit]
        assert plot.getPlotItem().ctrl.logXCheck.isChecked()  # log C-rate axis
        assert np.allclose(plot.mean_curve.xData, C_RATES) and len(plot.mean_curve.yData) == 5
        assert np.allclose(plot.mean_curve.yData, up.mean)
        assert np.allclose(plot.upper.yData - plot.lower.yData, 2 * up.std)
        ticks = [label for _pos, label in plot.getPlotItem().getAxis("bottom")._tickLevels[0]]
        assert ticks == ["0.2", "1", "2", "3", "5"]
        assert len(plot.tile_curves) == up.n_tiles == n_kept
        for row in range(5):
            assert table_text(panel, row, PREDICTED_COLUMN[unit]) == value_text(
                up.mean[row], up.std[row]
            )
    assert f"{n_kept} tile" in panel.status_label.text()
    assert panel.ood_label.isVisible() == pred.ood

    # per-tile curves toggle off and on
    qtbot.mouseClick(panel.tiles_check, QtCore.Qt.MouseButton.LeftButton)
    assert not any(c.isVisible() for p in panel.plots.values() for c in p.tile_curves)
    panel.tiles_check.setChecked(True)
    assert all(c.isVisible() for p in panel.plots.values() for c in p.tile_curves)

    # type a measured value: marker at 2C
    with qtbot.waitSignal(ctl.measured_changed):
        panel.table.item(2, MEASURED_COLUMN["specific"]).setText("121.5")
    assert ctl.measured.values["specific"][2] == 121.5 and ctl.measured.source == "typed"
    marker = panel.plots["specific"].measured
    assert list(marker.xData) == [2.0] and list(marker.yData) == [121.5]
    # a typed non-number: error dialog, the cell reverts
    panel.table.item(3, MEASURED_COLUMN["volumetric"]).setText("abc")
    assert window.dialogs.errors[-1][0] == "Not a capacity"
    assert table_text(panel, 3, MEASURED_COLUMN["volumetric"]) == ""

    # load a CSV
    csv = tmp_path / "measured.csv"
    csv.write_text("# cell 7\nc_rate,capacity,unit\n0.2,151,Ah/kg\n5C,90.5,Ah/kg\n1,401,Ah/L\n")
    assert ctl.measured_editor.load(csv)
    assert ctl.measured.values["specific"] == [151.0, None, None, None, 90.5]
    assert table_text(panel, 1, MEASURED_COLUMN["volumetric"]) == "401"
    assert list(panel.plots["specific"].measured.xData) == [0.2, 5.0]
    assert list(panel.plots["volumetric"].measured.yData) == [401.0]

    # a bad CSV: error dialog naming the file and the problem; values kept
    bad = tmp_path / "bad_capacities.csv"
    bad.write_text("c_rate,capacity,unit\n0.5,140,Ah/kg\n")
    n_err = len(window.dialogs.errors)
    assert not ctl.measured_editor.load(bad)
    title, text = window.dialogs.errors[n_err]
    assert "bad_capacities.csv" in text and "0.5" in text and "line 2" in text
    assert ctl.measured.values["specific"][0] == 151.0

    # the model card, one click away
    qtbot.mouseClick(panel.card_button, QtCore.Qt.MouseButton.LeftButton)
    dialog = next(w for w in window.findChildren(QtCore.QObject)
                  if type(w).__name__ == "ModelCardDialog")  # fmt: skip
    html = dialog.summary_view.toPlainText()
    assert "synthetic, physics-labelled" in html and "DFN" in html and "group-wise" in html
    dialog.close()

    # accepting the same tiles again does not recompute; changed tiles do
    before = ctl.prediction
    window.alignment.accept()
    assert ctl.prediction is before and not ctl.working()
    kept = next(i for i, t in enumerate(ctl.alignment.tiles) if t.kept)
    window.alignment.toggle_tile(kept)
    assert "accept the alignment" in panel.notice_label.text()
    qtbot.waitUntil(lambda: not window.alignment.working(), timeout=TIMEOUT_MS)
    window.alignment.accept()
    qtbot.waitUntil(
        lambda: ctl.prediction is not before and ctl.prediction.complete and not ctl.working(),
        timeout=TIMEOUT_MS,
    )
    assert ctl.prediction.units["specific"].n_tiles == n_kept - 1
    assert not panel.notice_label.isVisible()


def ood_prediction(n_tiles=3, ood=True):
    from ratescope.core.predict import Prediction, UnitPrediction

    units = {}
    for unit, scale in (("specific", 1.0), ("volumetric", 2.6)):
        mean = LABEL_MEAN * scale
        per_tile = mean + np.arange(n_tiles)[:, None] - 1.0
        units[unit] = UnitPrediction(
            unit, mean, np.full(5, 2.0), np.full(5, 1.0), np.full(5, 1.0), per_tile,
            np.stack([mean, mean]), n_tiles, 2, 2, ood_score=9.0 if ood else 1.0,
            ood_threshold=4.0)  # fmt: skip
    return Prediction(units, complete=True)


def test_ood_warning_is_visible_and_names_the_reason(qtbot, window):
    ctl = window.prediction
    panel = ctl.ensure_panel()
    ctl.dock.show()
    ctl.show_prediction(ood_prediction(ood=True))
    assert panel.ood_label.isVisible()
    assert "not a result" in panel.ood_label.text()
    assert "outside the training data" in panel.ood_label.text()
    assert "c62828" in panel.ood_label.styleSheet()  # red frame
    assert len(panel.plots["volumetric"].tile_curves) == 3
    ctl.show_prediction(ood_prediction(ood=False))
    assert not panel.ood_label.isVisible()
    ctl.clear()
    y = panel.plots["specific"].mean_curve.yData
    assert ctl.prediction is None and (y is None or len(y) == 0)


@pytest.mark.skipif(not embedded_present(), reason="needs the embedded models")
def test_flagged_prediction_is_greyed_with_its_reason_not_shown_as_a_result(qtbot, window):
    """Noise through the real ensemble: the curve is drawn grey and dashed, the table
    values are parenthesised and greyed, and the reason is written out."""
    from ratescope.core.predict import load_ensemble, predict_tiles
    from ratescope.gui.predict.plot import COLOURS, FLAGGED_COLOUR

    noise = np.random.default_rng(0).integers(0, 256, (2, 224, 672, 3), dtype=np.uint8)
    pred = predict_tiles(noise, load_ensemble(MODELS))
    assert pred.ood and all(up.ood_reasons for up in pred.units.values())
    ctl = window.prediction
    panel = ctl.ensure_panel()
    ctl.dock.show()
    ctl.show_prediction(pred)
    for unit, plot in panel.plots.items():
        assert plot.flagged
        pen = plot.mean_curve.opts["pen"]
        assert pen.color().getRgb()[:3] == FLAGGED_COLOUR
        assert pen.style() == QtCore.Qt.PenStyle.DashLine
        assert "not a result" in plot.flag_text.toPlainText()
        cell = panel.table.item(0, PREDICTED_COLUMN[unit])
        assert cell.text().startswith("(") and "not a result" in cell.toolTip()
    reason = pred.units["specific"].ood_reasons[0]
    assert reason in panel.ood_label.text()
    ok = ood_prediction(ood=False)
    ctl.show_prediction(ok)
    plot = panel.plots["specific"]
    assert not plot.flagged and plot.flag_text.toPlainText() == ""
    assert plot.mean_curve.opts["pen"].color().getRgb()[:3] == COLOURS["specific"]
    assert not panel.table.item(0, PREDICTED_COLUMN["specific"]).text().startswith("(")


@pytest.mark.parametrize("content, problem", [
    ("", "empty"),
    ("rate,capacity,unit\n1,2,Ah/kg\n", "missing column(s) c_rate"),
    ("c_rate,capacity,unit\n1,120,mAh/g\n", "line 2: unit 'mAh/g'"),
    ("c_rate,capacity,unit\n1,-3,Ah/kg\n", "line 2: capacity '-3' is not a positive"),
    ("c_rate,capacity,unit\n1,x,Ah/kg\n", "line 2: capacity 'x' is not a number"),
    ("c_rate,capacity,unit\n1,120,Ah/kg\n1C,121,Ah/kg\n", "line 3: 1C in Ah/kg is given twice"),
    ("c_rate,capacity,unit\n1,120\n", "line 2: 2 field(s)"),
    ("c_rate,capacity,unit\n", "no values"),
])  # fmt: skip
def test_bad_measured_csv_names_file_and_problem(tmp_path, content, problem):
    from ratescope.core.errors import RateScopeError

    path = tmp_path / "lab.csv"
    path.write_text(content)
    with pytest.raises(RateScopeError) as info:
        read_measured_csv(path)
    assert str(info.value).startswith("lab.csv: ") and problem in str(info.value)


def test_measured_csv_accepts_unit_names_and_rows_round_trip(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("unit,c_rate,capacity,note\nspecific,0.2,150,a\nAh/L,3 C,300.5,b\n")
    m = read_measured_csv(path)
    assert m.values["specific"][0] == 150 and m.values["volumetric"][3] == 300.5
    assert m.rows() == [{"c_rate": 0.2, "capacity": 150.0, "unit": "Ah/kg"},
                        {"c_rate": 3.0, "capacity": 300.5, "unit": "Ah/L"}]  # fmt: skip
    assert not math.isnan(m.points("volumetric")[1][0])


def test_missing_models_are_reported_without_torch_and_on_demand(qtbot, window, tmp_path):
    ctl = window.prediction
    empty = tmp_path / "no_models"
    empty.mkdir()
    ctl.load_models(empty)
    assert ctl.ensemble is None and "no model files" in str(ctl.load_error)
    assert "No prediction model" in window.statusBar().currentMessage()
    assert window.dialogs.errors == []  # start-up stays quiet ...
    ctl.show_card()
    assert window.dialogs.errors[-1][0] == "No model card"  # ... asking is answered
