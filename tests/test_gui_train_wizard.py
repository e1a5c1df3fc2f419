"""The training wizard driven like a user, end to end: a folder of real mosaic files
(written with tifffile) and a measured CSV -> review table -> settings -> the real
``ratescope train`` process (dense-head fine-tuning, 2 folds) with live curves, Cancel
and Resume -> registration -> activation -> a prediction in the window made with the new
model."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from _gui_helpers import Ask, shown_window
from PIL import Image
from PySide6 import QtCore, QtWidgets

from ratescope.core.models.registry import Registry
from ratescope.gui.train.review_table import (
    ALIGNMENT,
    ELECTRODE,
    MEASURED,
    REASONS,
    STATUS,
    TILES,
)

TIMEOUT_MS = 180_000
PER_CM = 1e4 / 0.123


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Four electrodes (two synthetic mosaics and their mirror images), E2 without its
    5C value, a CSV row without a mosaic (E9), a mosaic without a CSV row, a blank
    image in the CSV (its alignment fails) and a saved session confirming E3's alignment."""
    from ratescope.core.synth.mosaic import generate_mosaic
    from ratescope.gui.screenshots.train import confirm_alignment

    folder = tmp_path_factory.mktemp("lab")
    for i, porosity in enumerate((0.25, 0.42)):
        image = generate_mosaic(3 + i, porosity=porosity, height=560, width=1600).image
        for j, img in enumerate((image, image[:, ::-1])):
            tifffile.imwrite(folder / f"E{2 * i + j + 1}.tif", np.ascontiguousarray(img),
                             resolution=(PER_CM, PER_CM), resolutionunit="CENTIMETER")  # fmt: skip
    tifffile.imwrite(folder / "spare.tif", image[:, :1200])
    confirm_alignment(folder / "E3.tif")  # a saved session with one tile turned off
    Image.fromarray(np.full((400, 1400, 3), 128, np.uint8)).save(folder / "E5.png")
    (folder / "measured.csv").write_text(
        "sample,unit,0.2C,1C,2C,3C,5C\n"
        "E1,Ah/kg,150.1,145.3,139.2,133.0,118.4\n"
        "E2,mAh/g,151.0,146.2,140.1,134.2,\n"
        "E3,Ah/kg,147.2,138.0,127.1,117.3,92.0\n"
        "E4,Ah/kg,146.0,137.4,126.2,116.1,90.3\n"
        "E5,Ah/kg,149.0,141.0,133.0,125.0,108.0\n"
        "E9,Ah/kg,150.2,140.1,131.0,122.4,101.3\n"
    )
    return folder


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("RATESCOPE_MODELS_DIR", str(tmp_path / "user" / "models"))
    yield from shown_window(qtbot, tmp_path, (1300, 850), timeout_ms=TIMEOUT_MS)


def click(qtbot, button) -> None:
    assert button.isEnabled() and button.isVisible(), button.text()
    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def test_wizard_from_mosaics_to_a_prediction_with_the_new_model(qtbot, window, lab, tmp_path):
    ctl = window.models
    ctl.ask = Ask(folder=str(lab), open_path=str(lab / "measured.csv"))
    window.models.train_action.trigger()
    wizard = ctl.wizard
    assert wizard is not None and wizard.isVisible()
    wizard.settings.extra = ["--threads", "1"]  # the test shares two cores

    # data set: chosen through the file questions; Next only once both exist
    data = wizard.data_page
    assert not data.isComplete()
    click(qtbot, data.folder_button)
    click(qtbot, data.csv_button)
    assert data.folder_edit.text() == str(lab) and data.isComplete()
    assert [n for n, _ in ctl.ask.asked] == ["folder", "open_path"]

    # review: every file with its status, the unmatched CSV row named with its line
    wizard.next()
    review = wizard.review_page
    qtbot.waitUntil(lambda: review.review is not None, timeout=TIMEOUT_MS)
    table = review.table
    by_file = {table.item(r, 1).text(): r for r in range(table.rowCount())}
    assert sorted(by_file) == ["E1.tif", "E2.tif", "E3.tif", "E4.tif", "E5.png", "spare.tif"]
    status = {f: table.item(r, STATUS).text() for f, r in by_file.items()}
    assert status == {"E1.tif": "ok", "E2.tif": "ok", "E3.tif": "ok", "E4.tif": "ok",
                      "E5.png": "failed", "spare.tif": "no measurement"}  # fmt: skip
    tiles = {f: int(table.item(r, TILES).text()) for f, r in by_file.items()}
    assert all(tiles[f"E{i}.tif"] == 2 for i in (1, 2, 4)) and tiles["E3.tif"] == 1
    alignment = {f: table.item(r, ALIGNMENT).text() for f, r in by_file.items()}
    assert alignment["E3.tif"] == "saved session" and alignment["E1.tif"] == "automatic"
    assert table.item(by_file["E2.tif"], MEASURED).text() == "Ah/kg: 0.2C 1C 2C 3C"
    assert "5C" in table.item(by_file["E2.tif"], REASONS).text()
    assert table.item(by_file["E5.png"], REASONS).text() != "—"
    assert table.item(by_file["E1.tif"], ELECTRODE).text() == "E1"
    assert "line 7" in review.notes.text() and "E9" in review.notes.text()
    assert review.summary.text().startswith("4 electrodes, 7 tiles")
    assert "1 alignment from saved sessions" in review.summary.text()
    assert review.isComplete()

    # settings: the measured unit, 2 folds, head fine-tuning from the embedded ensemble
    wizard.next()
    settings = wizard.settings_page
    assert settings.unit_boxes["specific"].isChecked()
    assert not settings.unit_boxes["volumetric"].isEnabled()
    settings.folds_spin.setValue(3)
    assert settings.isComplete()  # 4 electrodes: 3 folds possible
    settings.folds_spin.setValue(2)
    settings.name_edit.setText("Lab test")
    settings.device_combo.setCurrentIndex(1)  # CPU
    assert settings.embedded_radio.isChecked() and settings.steps_spin.value() == 600

    # training: the real process; Cancel at its first step, then Resume
    page = wizard.train_page
    first_step = []

    def on_event(event):
        if event["event"] == "step" and not first_step:
            first_step.append(event)
            click(qtbot, page.cancel_button)

    page.process.event.connect(on_event)
    wizard.next()  # commit: "Start training"
    assert wizard.currentId() == wizard.TRAIN
    qtbot.waitUntil(lambda: page.state in ("cancelled", "failed", "done"), timeout=TIMEOUT_MS)
    assert page.state == "cancelled", page.status.text()
    assert page.log.done is None and page.log.cancelled and not page.process.running()
    assert "Resume continues" in page.status.text()
    assert (
        page.resume_button.isEnabled()
        and not wizard.button(QtWidgets.QWizard.WizardButton.NextButton).isEnabled()
    )
    stopped_at = page.log.last_step["step"]
    assert page.log.last_step["fold"] == 0 and stopped_at < 600
    assert list(page.process.arguments[:4]) == ["-m", "ratescope", "train", "--dataset"]

    page.process.event.disconnect(on_event)
    click(qtbot, page.resume_button)
    assert "--resume" in page.process.arguments
    qtbot.waitUntil(lambda: page.state in ("cancelled", "failed", "done"), timeout=TIMEOUT_MS)
    assert page.state == "done", page.status.text()
    assert page.bar.value() == 1000
    # the curves hold both folds, fold 0 continued past where it was cancelled
    assert set(page.curves.items) == {("specific", 0), ("specific", 1)}
    steps0 = page.log.curves[("specific", 0)].steps
    assert steps0[-1] > stopped_at and steps0 == sorted(set(steps0))
    assert page.table.rowCount() == 2
    held = [page.table.item(r, 4).text() for r in range(2)]
    assert all(float(t) > 0 for t in held)
    assert "held-out MAPE" in page.status.text() and "embedded model" in page.status.text()

    # finish: registered in the model manager's registry; activate on Finish
    wizard.next()
    finish = wizard.finish_page
    qtbot.waitUntil(lambda: finish.entry is not None, timeout=TIMEOUT_MS)
    entry = finish.entry
    assert entry.name == "Lab test" and entry.units == ["specific"]
    assert [e.id for e in Registry().entries()] == ["embedded", entry.id]
    held_out = entry.card["units"]["specific"]["held_out"]
    assert held_out["mape"] > 0 and held_out["embedded_mape"] > 0
    # offered for use at once only when it beats the embedded model on held-out electrodes
    better = held_out["mape"] < held_out["embedded_mape"]
    assert finish.activate_box.isChecked() == better
    assert ("not more accurate than the embedded one" in finish.text.text()) == (not better)
    finish.activate_box.setChecked(True)
    with qtbot.waitSignal(window.prediction.models_loaded, timeout=TIMEOUT_MS) as loaded:
        click(qtbot, wizard.button(QtWidgets.QWizard.WizardButton.FinishButton))
    assert loaded.args[0].models_dir == entry.path
    assert Registry().active().id == entry.id
    qtbot.waitUntil(lambda: ctl.wizard is None, timeout=TIMEOUT_MS)  # closed and deleted

    # predict in the window: the panel says which model made the prediction
    pred = window.prediction
    with qtbot.waitSignal(window.alignment.alignment_changed, timeout=TIMEOUT_MS):
        window.open_path(lab / "E1.tif")
    window.alignment.accept()
    qtbot.waitUntil(
        lambda: pred.prediction is not None and pred.prediction.complete and not pred.working(),
        timeout=TIMEOUT_MS,
    )
    assert pred.prediction.units["specific"].folds_total == 2
    assert "model: Lab test (user model" in pred.panel.status_label.text()
    assert window.dialogs.errors == []


def test_a_refused_measured_csv_is_shown_and_blocks_the_wizard(qtbot, window, lab, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sample,unit,0.2C,1C,2C,3C,5C\nE1,Ah/kg,150.1,about 145,139.2,133.0,118.4\n")
    ctl = window.models
    ctl.ask = Ask(folder=str(lab), open_path=str(bad))
    wizard = ctl.open_wizard()
    click(qtbot, wizard.data_page.folder_button)
    click(qtbot, wizard.data_page.csv_button)
    wizard.next()
    review = wizard.review_page
    qtbot.waitUntil(lambda: review.error is not None, timeout=TIMEOUT_MS)
    title, text = window.dialogs.errors[-1]
    assert title == "Review failed" and text.startswith("bad.csv: ") and "line 2" in text
    assert text in review.message.text() and review.table.rowCount() == 0
    assert not review.isComplete()
    assert not wizard.button(QtWidgets.QWizard.WizardButton.NextButton).isEnabled()
    wizard.close()
    qtbot.waitUntil(lambda: ctl.wizard is None, timeout=TIMEOUT_MS)
