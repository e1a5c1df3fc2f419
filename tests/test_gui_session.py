"""Sessions, exports and folder batches driven through the window (pytest-qt, offscreen)."""

from __future__ import annotations

import csv
import shutil
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from _gui_helpers import Ask, window_shown
from PySide6 import QtCore
from test_report_helpers import fake_prediction, tiny_ensemble

from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.core.session import Session, load_session, save_session, source_facts
from ratescope.gui.predict.panel import MEASURED_COLUMN

TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_ensemble(tmp_path_factory.mktemp("models"), k=1)


@pytest.fixture
def make_window(qtbot, tmp_path, models):
    """``make_window(ask, recovery_dir=None)``: a shown window whose session asks ``ask``."""
    windows = ExitStack()

    def make(ask, recovery_dir=None):
        def prepare(win):
            win.session.ask = ask
            win.session.recovery_dir = recovery_dir or tmp_path / "recovery"

        shown = window_shown(qtbot, tmp_path, (1200, 800), models, TIMEOUT_MS, prepare=prepare)
        return windows.enter_context(shown)

    with windows:
        yield make


def idle(qtbot, win):
    qtbot.waitUntil(lambda: not win.runner.busy, timeout=TIMEOUT_MS)


def test_save_open_export_round_trip(qtbot, tmp_path, make_window):
    src = tmp_path / "m.czi"
    shutil.copy(SAMPLE_MOSAIC, src)
    win = make_window(Ask(scale=2))
    ctl = win.prediction
    qtbot.waitUntil(lambda: ctl.ensemble is not None, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(win.alignment.alignment_changed, timeout=TIMEOUT_MS):
        win.open_path(src)
    idle(qtbot, win)
    win.alignment.toggle_tile(0)  # a tile decision of the user
    idle(qtbot, win)
    win.alignment.accept()
    qtbot.waitUntil(lambda: ctl.prediction is not None and ctl.prediction.complete
                    and not ctl.working(), timeout=TIMEOUT_MS)  # fmt: skip
    ctl.panel.table.item(1, MEASURED_COLUMN["specific"]).setText("141.5")  # typed
    assert win.session.dirty
    # an explanation map (Grad-RAM: quick) and a zoomed view, both to be restored
    explain = win.explanation
    qtbot.waitUntil(lambda: explain.tileset is not None, timeout=TIMEOUT_MS)
    explain.panel.method_combo.setCurrentIndex(explain.panel.method_combo.findData("gradram"))
    explain.panel.tile_combo.setCurrentIndex(1)
    explain.panel.c_rate_combo.setCurrentIndex(3)
    explain.compute()
    qtbot.waitUntil(lambda: explain.result is not None, timeout=TIMEOUT_MS)
    shown_map = explain.current
    win.mosaic_view.view_box.setRange(QtCore.QRectF(1000, 100, 1200, 600), padding=0)
    view_rect = win.mosaic_view.view_box.viewRect()
    # autosave writes the recovery copy while changes are unsaved
    with qtbot.waitSignal(win.session.saved, timeout=TIMEOUT_MS):
        win.session.autosave()
    assert win.session.recovery_path.is_file() and win.session.dirty
    target = tmp_path / "work.ratescope"
    with qtbot.waitSignal(win.session.saved, timeout=TIMEOUT_MS):
        win.session.save(target)
    assert not win.session.dirty and not win.session.recovery_path.exists()
    assert Path(win.settings.last_directory) == tmp_path.resolve()  # next dialogs start here
    saved = load_session(target)
    assert saved.source_sha256 == source_facts(src)["source_sha256"]
    assert saved.alignment.tiles[0].override is not None
    # exports: PDF, CSV, PNG at 2x, all off the GUI thread
    (tmp_path / "exports").mkdir()
    win.session.export.export_pdf(str(tmp_path / "exports" / "r.pdf"))
    win.session.export.export_csv(str(tmp_path / "exports" / "r.csv"))
    win.session.export.export_png(str(tmp_path / "exports" / "v.png"), "Whole window")
    idle(qtbot, win)
    assert win.dialogs.errors == []
    assert (tmp_path / "exports" / "r.pdf").read_bytes()[:4] == b"%PDF"
    rows = list(csv.DictReader((tmp_path / "exports" / "r.csv").open()))
    assert Path(win.settings.last_directory) == (tmp_path / "exports").resolve()
    assert len(rows) == 10 and rows[1]["measured"] == "141.5"
    from PySide6 import QtGui

    png = QtGui.QImage(str(tmp_path / "exports" / "v.png"))
    assert png.width() == 2 * win.width()
    # open the session again the way a double-click, a drop or the command line does:
    # prediction, measured values and tile choice restored
    pred = ctl.prediction
    with qtbot.waitSignal(win.session.session_restored, timeout=TIMEOUT_MS):
        win.open_paths([str(target)])
    got = ctl.prediction.units["specific"]
    assert np.allclose(got.mean, pred.units["specific"].mean)
    assert ctl.measured.values["specific"][1] == 141.5
    assert dict(win.alignment.state.overrides) == {0: saved.alignment.tiles[0].override}
    assert win.session.path == target
    # accepted as it was, without predicting again; the explanation map and the view back
    assert saved.accepted and saved.view is not None and len(saved.maps) == 1
    qtbot.waitUntil(lambda: win.alignment.accepted is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: explain.result is not None, timeout=TIMEOUT_MS)
    assert not ctl.working() and ctl.prediction.units["specific"] is got
    restored = explain.current
    assert (restored.method, restored.tile, restored.c_rate) == (
        shown_map.method, shown_map.tile, shown_map.c_rate)  # fmt: skip
    np.testing.assert_allclose(restored.map, shown_map.map, rtol=1e-6)
    assert explain.panel.tile_combo.currentIndex() == 1
    qtbot.wait(50)
    assert win.mosaic_view.view_box.viewRect() == view_rect
    assert not win.session.dirty


def test_recovery_offered_and_changed_source_located(qtbot, tmp_path, make_window):
    src = tmp_path / "m.czi"
    shutil.copy(SAMPLE_MOSAIC, src)
    recovery = tmp_path / "data" / "recovery.ratescope"
    session = Session(
        **source_facts(src),
        prediction=fake_prediction(),
        measured={"volumetric": np.array([400.0, np.nan, np.nan, np.nan, 250])},
    )
    save_session(session, recovery)
    copy = tmp_path / "moved.czi"
    shutil.copy(src, copy)
    src.write_bytes(src.read_bytes()[:-10] + b"0123456789")  # the file changed since
    ask = Ask(yes_no=True, open_path=str(copy))
    win = make_window(ask, recovery.parent)
    with qtbot.waitSignal(win.session.session_restored, timeout=TIMEOUT_MS):
        pass  # the recovery question came at the first paint
    assert ("yes_no", "Recover unsaved work?") in ask.asked
    assert any("changed" in text for _t, text in win.dialogs.errors)
    assert win.current_mosaic.path == copy.resolve()
    assert win.prediction.prediction.units["volumetric"].mean[0] == pytest.approx(412.83)
    assert win.prediction.measured.values["volumetric"][4] == 250
    assert win.session.path is None  # a recovered session is saved under a new name
    # the single recovery file of earlier versions became this window's own copy, and the
    # recovered work counts as unsaved
    assert not recovery.exists() and win.session.recovery_path.is_file()
    assert win.session.dirty


@pytest.mark.slow
def test_folder_batch(qtbot, tmp_path, make_window):
    from matplotlib.image import imsave

    from ratescope.core.io import load_mosaic

    folder = tmp_path / "day"
    folder.mkdir()
    imsave(folder / "a.png", load_mosaic(SAMPLE_MOSAIC).image[:, :1500])
    (folder / "broken.tif").write_bytes(b"II*\x00" + bytes(20))
    (folder / "notes.txt").write_text("not an image")
    win = make_window(Ask())
    qtbot.waitUntil(lambda: win.prediction.ensemble is not None, timeout=TIMEOUT_MS)
    win.session.export.batch(folder, str(tmp_path / "b.pdf"), str(tmp_path / "b.csv"))
    idle(qtbot, win)
    rows = list(csv.DictReader((tmp_path / "b.csv").open()))
    assert {r["file"].rsplit("/", 1)[1] for r in rows} == {"a.png"} and len(rows) == 10
    assert (tmp_path / "b.pdf").is_file()
    assert [t for t, _ in win.dialogs.errors] == ["1 file(s) skipped"]
    assert "broken.tif" in win.dialogs.errors[0][1]


def test_a_folder_dropped_early_waits_for_the_models(qtbot, tmp_path, make_window, monkeypatch):
    from matplotlib.image import imsave

    folder = tmp_path / "day"
    folder.mkdir()
    imsave(folder / "a.png", np.zeros((50, 80, 3)))
    started = []
    from ratescope.core.report.batch import BatchResult

    def fake_batch(files, ensemble, pdf, csv, progress=None):
        started.append((files, ensemble))
        return BatchResult()

    monkeypatch.setattr("ratescope.gui.session.jobs.batch_job", fake_batch)
    win = make_window(Ask())
    qtbot.waitUntil(lambda: win.prediction.ensemble is not None, timeout=TIMEOUT_MS)
    win.prediction.load_models()  # loading again: as in the first seconds after start
    assert win.prediction.ensemble is None and win.prediction.load_error is None
    assert win.session.export.batch(folder, str(tmp_path / "b.pdf"), None) is None
    assert win.dialogs.errors == [] and "starts when the models" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: bool(started), timeout=TIMEOUT_MS)  # the models landed: it ran
    files, ensemble = started[0]
    assert [f.name for f in files] == ["a.png"] and ensemble is win.prediction.ensemble
