"""Test-wide setup: Qt runs offscreen; helpers live in the test modules that use them.

GUI tests (``test_gui_*`` modules and any test using ``qtbot`` or ``qapp``) must leave no
background thread or worker running: one that emits a signal after its window was
deleted can crash the whole run later, in another test. :func:`no_background_left`
fails such a test at teardown.
"""

import os
import tempfile
import threading
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the user's own models (core.models.registry) are never read or changed by the tests
os.environ["RATESCOPE_MODELS_DIR"] = tempfile.mkdtemp(prefix="ratescope-test-models-")

GRACE_S = 2.0
"""How long a GUI test's background work may still take after its teardown."""
CLEANUP_S = 60.0
"""After a failure: how long to wait so that the work cannot hit the next test."""


def _is_gui_test(request: pytest.FixtureRequest) -> bool:
    module = getattr(request.node, "module", None)
    name = getattr(module, "__name__", "")
    return name.startswith("test_gui") or bool({"qtbot", "qapp"} & set(request.fixturenames))


def _new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Plain Python threads started since ``before`` (Qt's pool threads appear as dummy
    threads; ``gui.threads.running`` counts the busy ones)."""
    return [
        t
        for t in threading.enumerate()
        if t not in before and not isinstance(t, threading._DummyThread)
    ]


@pytest.fixture(autouse=True)
def no_background_left(request):
    """Fail a GUI test that leaves a thread or worker running after its teardown.

    Autouse fixtures are set up first, so this one is torn down after the test's own
    fixtures (windows closed, their work cancelled and awaited).
    """
    if not _is_gui_test(request):
        yield
        return
    from ratescope.gui import threads

    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + GRACE_S
    threads.wait_all(GRACE_S)
    for thread in _new_threads(before):
        thread.join(max(0.0, deadline - time.monotonic()))
    left = threads.running()
    left += [t.name for t in _new_threads(before) if t.is_alive() and t.name not in left]
    if left:
        threads.wait_all(CLEANUP_S)
        pytest.fail(
            f"still running {GRACE_S:.0f} s after the test's teardown: {', '.join(left)} "
            "(wait for gui.threads.running() to be empty, e.g. with "
            "_gui_helpers.wait_for_background)",
            pytrace=False,
        )
