"""The GUI's one way to run background work (``gui.threads``), and the test fixture that
fails a GUI test leaving a thread or worker running (``tests/conftest.py``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from ratescope.gui import threads

HERE = Path(__file__).resolve().parent

LEAKY_TESTS = """
import threading
import time

from ratescope.gui import threads


def test_leaves_a_thread(qtbot):
    threads.start_thread(lambda: time.sleep(4), name="left-thread")


def test_leaves_a_plain_thread(qtbot):
    threading.Thread(target=lambda: time.sleep(4), name="plain-thread", daemon=True).start()


def test_leaves_a_worker(qtbot):
    threads.start_worker(time.sleep, 4)


def test_work_done_within_the_grace_passes(qtbot):
    threads.start_thread(lambda: time.sleep(0.3), name="short")


def test_not_a_gui_test_is_not_checked():
    threading.Thread(target=lambda: time.sleep(1), name="elsewhere", daemon=True).start()
"""


def test_wait_all_waits_for_threads_and_workers(qapp):
    done = threading.Event()
    threads.start_thread(lambda: (time.sleep(0.3), done.set()), name="test-thread")
    threads.start_worker(time.sleep, 0.3)
    assert "test-thread" in threads.running()
    assert threads.wait_all(30)
    assert done.is_set() and threads.running() == []


def test_a_gui_test_leaving_background_work_fails(tmp_path):
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_leaky.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert re.search(r"\b5 passed, 3 errors\b", out), out
    for test, name in [
        ("test_leaves_a_thread", "left-thread"),
        ("test_leaves_a_plain_thread", "plain-thread"),
        ("test_leaves_a_worker", "1 pool worker"),
    ]:
        assert re.search(rf"ERROR at teardown of {test} _+\nstill running .*: {name}", out), out
