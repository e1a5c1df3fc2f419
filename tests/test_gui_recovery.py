"""Nothing lost: one recovery file per window, orphans offered at start, unsaved-work prompt.

Real main windows (pytest-qt, offscreen); the questions are answered by :class:`Ask`, the
window's replaceable ``session.ask``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import shiboken6
from _gui_helpers import Ask, RecordingDialogs, wait_for_background
from PySide6 import QtCore, QtGui, QtWidgets
from test_report_helpers import tiny_ensemble

from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.core.session import Session, load_session, save_session, source_facts
from ratescope.gui.session import recovery
from ratescope.gui.session.dialogs import SessionDialogs
from ratescope.gui.session.jobs import autosave_job
from ratescope.gui.shell.main_window import MainWindow

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tiny_ensemble(tmp_path_factory.mktemp("models"), k=1)


@pytest.fixture
def folder(tmp_path):
    """The recovery folder the windows of a test share."""
    return tmp_path / "recovery"


@pytest.fixture
def make_window(qtbot, tmp_path, models, folder):
    """``make_window(ask)``: a shown window whose session asks ``ask``, recovering in
    ``folder``. At the end every window's work is cancelled first, then awaited once
    (waiting runs deferred deletes: a window pytest-qt closed may be gone after it)."""
    windows = []

    def make(ask):
        settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
        win = MainWindow(settings=settings, dialogs=RecordingDialogs())
        win.prediction.models_dir = models
        win.session.ask = ask
        win.session.recovery_dir = folder
        windows.append(win)
        qtbot.addWidget(win)
        win.resize(1000, 700)
        win.show()
        qtbot.waitExposed(win)
        return win

    yield make
    for win in windows:
        if shiboken6.isValid(win):
            win.runner.cancel_all()
    wait_for_background(qtbot, TIMEOUT_MS)


def idle(qtbot, win):
    qtbot.waitUntil(lambda: not win.runner.busy, timeout=TIMEOUT_MS)


def open_sample(qtbot, win):
    """Open the sample and wait for its detected alignment (no work of the user's yet)."""
    with qtbot.waitSignal(win.alignment.alignment_changed, timeout=TIMEOUT_MS):
        win.open_path(SAMPLE_MOSAIC)
    idle(qtbot, win)
    assert not win.session.dirty  # detection alone is given back by opening the file again


def edit(qtbot, win):
    """A user's edit: reject the first tile (an undoable alignment edit)."""
    win.alignment.toggle_tile(0)
    idle(qtbot, win)
    assert win.session.dirty


def autosave(qtbot, win):
    with qtbot.waitSignal(win.session.saved, timeout=TIMEOUT_MS):
        assert win.session.autosave() is not None
    assert win.session.recovery_path.is_file()


def dead_pid() -> int:
    """The id of a process that has exited (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-S", "-c", ""])
    proc.wait()
    assert not recovery.pid_running(proc.pid)
    return proc.pid


def session_file(path, src, mtime: float, measured: float = 400.0):
    """A recovery copy about ``src``, last written at ``mtime``."""
    values = np.array([measured, np.nan, np.nan, np.nan, np.nan])
    save_session(Session(**source_facts(src), measured={"specific": values}), path)
    os.utime(path, (mtime, mtime))
    return path


# --------------------------------------------------------------------- per-window files
def test_each_window_has_its_own_recovery_file(qtbot, make_window, folder):
    asks = [Ask(unsaved="discard") for _ in range(3)]
    a, b, c = (make_window(ask) for ask in asks)
    assert len({w.session.recovery_path for w in (a, b, c)}) == 3
    for win in (a, b, c):
        assert win.session.recovery_path.parent == folder
        assert recovery.owner_pid(win.session.recovery_path) == os.getpid()
    for win in (a, b):
        open_sample(qtbot, win)
        edit(qtbot, win)
        autosave(qtbot, win)
    # a clean window closes without a question and removes only its own (absent) file
    assert c.close() and not c.isVisible()
    assert asks[2].count("unsaved") == 0
    assert a.session.recovery_path.is_file() and b.session.recovery_path.is_file()
    # Discard closes b and removes its copy; a's copy stays
    assert b.close() and not b.isVisible()
    assert asks[1].count("unsaved") == 1
    assert not b.session.recovery_path.exists()
    assert a.session.recovery_path.is_file()
    # both still-open files belong to this (running) process: never offered
    assert recovery.orphans(folder) == []


def test_recovery_offers_dead_windows_files_and_the_old_single_file(
    qtbot, tmp_path, make_window, folder
):
    src = tmp_path / "m.czi"
    shutil.copy(SAMPLE_MOSAIC, src)
    folder.mkdir()
    now = time.time()
    dead = session_file(folder / f"recovery-{dead_pid()}-0a1b.ratescope", src, now, 123.0)
    live = session_file(folder / f"recovery-{os.getpid()}-live.ratescope", src, now)
    legacy = session_file(folder / recovery.LEGACY_NAME, src, now - 100, 321.0)
    ask = Ask(yes_no=True)
    win = make_window(ask)  # asked at the first paint: the newest orphan is restored
    qtbot.waitUntil(lambda: not dead.exists(), timeout=TIMEOUT_MS)
    idle(qtbot, win)
    assert ask.count("yes_no") == 1
    assert win.prediction.measured.values["specific"][0] == 123.0
    assert win.session.dirty and win.session.path is None  # recovered: saved nowhere yet
    assert not dead.exists() and win.session.recovery_path.is_file()  # now this window's
    assert live.is_file() and legacy.is_file()  # a live window's copy is left alone
    # the next window is offered only the old single file (the first window still runs);
    # declined, it is removed
    second = Ask(yes_no=False)
    make_window(second)
    qtbot.waitUntil(lambda: second.count("yes_no") == 1, timeout=TIMEOUT_MS)
    assert not legacy.exists()
    assert live.is_file() and win.session.recovery_path.is_file()
    assert recovery.orphans(folder) == []


def test_a_reused_process_id_does_not_hide_an_orphan(tmp_path):
    started = recovery.process_start_time(os.getpid())
    if started is None:
        pytest.skip("no process start times on this system")
    path = tmp_path / recovery.window_file_name()
    path.write_bytes(b"x")
    assert recovery.owner_running(path)  # written by this running process
    os.utime(path, (started - 3600, started - 3600))  # written before this process began
    assert not recovery.owner_running(path)
    assert recovery.orphans(tmp_path) == [path]


def test_recovery_file_names():
    name = recovery.window_file_name(4242)
    assert name.startswith("recovery-4242-") and name.endswith(".ratescope")
    assert recovery.owner_pid(name) == 4242
    assert recovery.window_file_name() != recovery.window_file_name()
    assert recovery.owner_pid(recovery.LEGACY_NAME) is None
    assert recovery.owner_pid("recovery-x-1.ratescope") is None


def test_an_autosave_running_at_discard_removes_its_file(tmp_path):
    discarded = threading.Event()
    path = tmp_path / "recovery-1-a.ratescope"
    autosave_job(Session(), path, discarded)
    assert path.is_file()
    discarded.set()  # the window was discarded while the copy was being written
    autosave_job(Session(), path, discarded)
    assert not path.exists()


# ------------------------------------------------------------------ unsaved-work prompt
def test_close_with_unsaved_edits_asks_cancel_keeps_discard_closes(qtbot, make_window):
    ask = Ask(unsaved="cancel")
    win = make_window(ask)
    open_sample(qtbot, win)
    edit(qtbot, win)
    assert not win.session.recovery_path.exists()  # no autosave yet: asked all the same
    assert not win.close()
    assert win.isVisible() and win.session.dirty and ask.count("unsaved") == 1
    autosave(qtbot, win)
    ask.answers["unsaved"] = "discard"
    assert win.close() and not win.isVisible()
    assert ask.count("unsaved") == 2
    assert not win.session.recovery_path.exists()


def test_quit_shortcut_asks_and_save_closes_once_saved(qtbot, tmp_path, make_window):
    target = tmp_path / "work.ratescope"
    ask = Ask(unsaved="cancel", save_path=str(target))
    win = make_window(ask)
    open_sample(qtbot, win)
    edit(qtbot, win)
    autosave(qtbot, win)
    assert win.quit_action.shortcut() == QtGui.QKeySequence("Ctrl+Q")
    win.activateWindow()
    qtbot.waitActive(win)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Q, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert ask.count("unsaved") == 1 and win.isVisible()  # Cancel
    ask.answers["unsaved"] = "save"
    win.quit_action.trigger()  # File ▸ Quit: Save asks for a name, saves, then closes
    assert ask.count("unsaved") == 2 and ask.count("save_path") == 1
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=TIMEOUT_MS)
    assert load_session(target).alignment.tiles[0].override is not None
    assert not win.session.dirty and not win.session.recovery_path.exists()
    assert ask.count("unsaved") == 2  # the close after the save asked nothing


def test_save_dialog_cancelled_keeps_the_window(qtbot, make_window):
    ask = Ask(unsaved="save", save_path=None)
    win = make_window(ask)
    open_sample(qtbot, win)
    edit(qtbot, win)
    assert not win.close() and win.isVisible() and win.session.dirty
    ask.answers["unsaved"] = "discard"


def test_clean_window_closes_without_a_prompt(qtbot, make_window):
    empty, opened = Ask(), Ask()
    win = make_window(empty)
    assert win.close() and not win.isVisible()
    win = make_window(opened)
    open_sample(qtbot, win)  # a file with its detected alignment, nothing edited
    assert win.close() and not win.isVisible()
    assert empty.asked == [] and opened.count("unsaved") == 0


@pytest.mark.parametrize(
    ("button", "answer"), [("Save", "save"), ("Discard", "discard"), ("Cancel", "cancel")]
)
def test_the_unsaved_question_is_a_message_box(monkeypatch, button, answer):
    buttons = QtWidgets.QMessageBox.StandardButton
    asked = []

    def question(parent, title, text, shown, default):
        asked.append((shown, default))
        return getattr(buttons, button)

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    assert SessionDialogs().unsaved(None, "Save changes?", "text") == answer
    assert asked == [(buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)]
