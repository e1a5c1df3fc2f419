"""The training page's plumbing with a stand-in process: JSON progress lines drawn as
learning curves and fold rows, the ETA, Cancel (SIGTERM -> "cancelled", resumable) and an
error event. The stand-in is a short Python script written here (the real
``ratescope train`` runs in tests/test_gui_train_wizard.py)."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from _gui_helpers import window_shown
from PySide6 import QtCore, QtWidgets

from ratescope.gui.train.curves import FoldTable, LearningCurves
from ratescope.gui.train.events import EventLog, format_eta, parse_line
from ratescope.gui.train.process import TrainProcess

TIMEOUT_MS = 30_000

FAKE = textwrap.dedent(
    """
    import json, signal, sys, time
    steps, folds, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    fail = sys.argv[4] == "fail"
    def emit(**e):
        print(json.dumps(e), flush=True)
    def cancelled(*_):
        emit(event="cancelled", message="checkpoint written")
        sys.exit(3)
    signal.signal(signal.SIGTERM, cancelled)
    print("a log line that is not JSON", flush=True)
    emit(event="start", folds=folds, steps=steps, units=["specific"])
    for f in range(folds):
        for s in range(1, steps + 1):
            val = 20.0 - s if s % 2 == 0 else None
            emit(event="step", unit="specific", fold=f, step=s, steps=steps,
                 train_loss=30.0 - s, val_mape=val, eta_s=delay * (steps - s))
            time.sleep(delay)
        if fail:
            emit(event="error", message="fold 1: the labels are all NaN")
            sys.exit(1)
        emit(event="fold", unit="specific", fold=f,
             metrics={"train": {"mape": 2.0}, "val": {"mape": 3.0},
                      "test": {"mape": 4.0 + f, "r2": 0.9}, "embedded": {"mape": 12.5}})
    emit(event="done", out="x", summary={"specific": {"test_mape_mean": 4.5}})
    """
)


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "fake_train.py"
    path.write_text(FAKE)
    return path


def run_page(qtbot):
    """A process with the curves and the table fed from its events (the holder widget is
    returned too: the test must keep it, it owns the curves and the table)."""
    process = TrainProcess(program=sys.executable)
    log = EventLog()
    curves, table = LearningCurves(), FoldTable()
    holder = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(holder)
    layout.addWidget(curves)
    layout.addWidget(table)
    qtbot.addWidget(holder)
    holder.show()
    events, ended = [], []

    def on_event(e):
        events.append(e)
        log.add(e)
        curves.show_log(log)
        table.show_log(log)

    process.event.connect(on_event)
    process.finished.connect(lambda code, cancelled: ended.append((code, cancelled)))
    return process, log, curves, table, events, ended, holder


def test_progress_lines_draw_curves_and_fold_rows(qtbot, fake):
    process, log, curves, table, events, ended, _holder = run_page(qtbot)
    process.start([str(fake), "6", "2", "0.01", "ok"])
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert ended == [(0, False)]
    assert [e["event"] for e in events].count("step") == 12  # the log line was skipped
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert set(curves.items) == {("specific", 0), ("specific", 1)}
    loss, val = curves.items[("specific", 1)]
    raw = curves.raw[("specific", 1)]
    assert list(raw.xData) == [1, 2, 3, 4, 5, 6] and list(raw.yData) == [29, 28, 27, 26, 25, 24]
    assert list(loss.xData) == list(raw.xData)  # the running mean of the batch losses
    assert np.allclose(loss.yData, [29, 28.5, 28, 27.5, 27, 26.5])
    assert list(val.xData) == [2, 4, 6] and list(val.yData) == [18, 16, 14]
    assert table.rowCount() == 2
    texts = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(2)]
    assert texts[0] == ["Ah/kg", "1", "2.00", "3.00", "4.00", "0.900", "12.50"]
    assert texts[1][4] == "5.00"
    assert log.fraction() == 1.0


def test_cancel_stops_the_process_gently_and_error_events_are_kept(qtbot, fake):
    process, log, curves, _table, events, ended, _holder = run_page(qtbot)
    process.start([str(fake), "400", "1", "0.02", "ok"])
    qtbot.waitUntil(lambda: log.last_step is not None and log.last_step["step"] >= 3,
                    timeout=TIMEOUT_MS)  # fmt: skip
    assert 0 < log.fraction() < 0.1
    assert format_eta(log.eta_s()).startswith("ETA")
    process.cancel()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    code, cancelled = ended[0]
    assert cancelled and code == 3 and log.cancelled and not process.running()
    assert events[-1]["event"] == "cancelled" and log.done is None
    assert curves.point_count() == log.last_step["step"]

    ended.clear()
    process.start([str(fake), "3", "1", "0.0", "fail"])
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert ended == [(1, False)] and log.error == "fold 1: the labels are all NaN"


def test_line_parsing_and_eta_words():
    assert parse_line(b'{"event": "step", "step": 3}\n') == {"event": "step", "step": 3}
    assert parse_line("[#####.....] 50 %") is None
    assert parse_line('{"event": "unknown"}') is None
    assert parse_line('{"event": "step", ') is None
    assert format_eta(None) == "" and format_eta(12.4) == "ETA 12 s"
    assert format_eta(250) == "ETA 4 min 10 s" and format_eta(3900) == "ETA 1 h 05 min"
    log = EventLog()
    log.add({"event": "start", "folds": 2, "steps": 10, "units": ["specific", "volumetric"]})
    log.add({"event": "step", "unit": "volumetric", "fold": 1, "step": 5, "steps": 10,
             "train_loss": 3.0})  # fmt: skip
    assert log.fraction() == pytest.approx((2 * 10 + 10 + 5) / 40)
    # a resumed run repeats steps after its checkpoint: the curve is cut back, not doubled
    for s in (6, 7, 6, 7, 8):
        log.add({"event": "step", "unit": "volumetric", "fold": 1, "step": s, "train_loss": s})
    assert log.curves[("volumetric", 1)].steps == [5, 6, 7, 8]


def test_a_program_that_cannot_start_is_reported(qtbot, tmp_path):
    process = TrainProcess(program=str(tmp_path / "no-such-python"))
    ended = []
    process.finished.connect(lambda code, cancelled: ended.append((code, cancelled)))
    process.start(["-c", "pass"])
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert ended[0] == (-1, False) and "could not start" in process.error_text()
    QtCore.QCoreApplication.processEvents()


def test_closing_the_wizard_lets_a_running_process_stop_gently(qtbot, tmp_path, fake):
    """The wizard closes at once; the process gets SIGTERM, writes its "cancelled" event
    (checkpoint) and exits, owned meanwhile by the main window."""
    with window_shown(qtbot, tmp_path) as window:
        wizard = window.models.open_wizard()
        process = wizard.train_page.process
        events, ended = [], []
        process.event.connect(lambda e: events.append(e["event"]))
        process.finished.connect(lambda code, cancelled: ended.append((code, cancelled)))
        process.start([str(fake), "400", "1", "0.02", "ok"])
        qtbot.waitUntil(lambda: "step" in events, timeout=TIMEOUT_MS)
        wizard.close()
        assert process.running() and process.parent() is window  # not waited for
        qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
        assert ended == [(3, True)] and events[-1] == "cancelled"
        qtbot.waitUntil(lambda: window.models.wizard is None, timeout=TIMEOUT_MS)
