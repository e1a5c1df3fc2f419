"""Layouts that fit common screens: everything of the prediction visible at 1366 x 768 and
1280 x 800, a minimum window size never above 1024 x 700 (also after a volume was opened),
each workspace showing only its own docks, and the title naming its document."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from _gui_helpers import window_shown

from ratescope.core.resources import MODELS, SAMPLE_MOSAIC
from ratescope.gui.volume.page import VolumeQuestions

TIMEOUT_MS = 60_000
MAX_MINIMUM = (1024, 700)


class Answers(VolumeQuestions):
    def choose_dataset(self, parent, path, names):
        return names[0]

    def ask_voxel_size(self, parent, path, default_um):
        return 0.5


def fits(size) -> bool:
    return size.width() <= MAX_MINIMUM[0] and size.height() <= MAX_MINIMUM[1]


@pytest.mark.parametrize("size", [(1366, 768), (1280, 800)])
def test_prediction_fits_without_scrolling(qtbot, tmp_path, size):
    with window_shown(qtbot, tmp_path, size, models_dir=MODELS, timeout_ms=TIMEOUT_MS) as window:
        ctl = window.prediction
        qtbot.waitUntil(lambda: ctl.ensemble is not None, timeout=TIMEOUT_MS)
        with qtbot.waitSignal(window.alignment.alignment_changed, timeout=TIMEOUT_MS):
            window.open_path(SAMPLE_MOSAIC)
        window.alignment.accept()
        qtbot.waitUntil(lambda: ctl.prediction is not None and ctl.prediction.complete,
                        timeout=TIMEOUT_MS)  # fmt: skip
        qtbot.wait(100)
        scroll = ctl.dock.widget()
        assert not scroll.verticalScrollBar().isVisible()  # the 5C row, the buttons
        assert not scroll.horizontalScrollBar().isVisible()  # every table column
        assert not ctl.panel.table.horizontalScrollBar().isVisible()
        assert fits(window.minimumSizeHint()), window.minimumSizeHint()
        assert window.mosaic_page.width() > 700 and window.mosaic_page.height() > 300


def test_workspaces_keep_their_docks_and_the_minimum_size_small(qtbot, tmp_path):
    path = tmp_path / "v.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=(rng.random((30, 64, 64)) > 0.6).astype(np.uint8))

    def prepare(win):
        win.volume_page.questions = Answers()

    with window_shown(qtbot, tmp_path, (1366, 768), prepare=prepare) as window:
        with qtbot.waitSignal(window.alignment.alignment_changed, timeout=TIMEOUT_MS):
            window.open_path(SAMPLE_MOSAIC)
        assert window.windowTitle().startswith("sample_mosaic.czi")
        dock = window.alignment.dock
        assert dock.isVisible()
        with qtbot.waitSignal(window.volume_page.workspace.block_shown, timeout=TIMEOUT_MS):
            window.open_path(path)
        assert window.current_workspace == "volume"
        assert not dock.isVisible()  # the mosaic's docks leave with it
        assert window.windowTitle().startswith("v.h5")
        assert fits(window.minimumSizeHint()), window.minimumSizeHint()
        window.resize(*MAX_MINIMUM)
        qtbot.wait(50)
        assert (window.width(), window.height()) == MAX_MINIMUM
        window.show_workspace("mosaic")
        assert dock.isVisible() and window.windowTitle().startswith("sample_mosaic.czi")
        assert fits(window.minimumSizeHint()), window.minimumSizeHint()
