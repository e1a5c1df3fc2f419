"""One file's state at a time: opening the next file leaves nothing of the last on screen.

Opens A (the sample), accepts, predicts and types measured values; then B (another
electrode), then C (not an electrode: alignment fails), checking every panel each time.
"""

from __future__ import annotations

import numpy as np
import pytest
from _gui_helpers import shown_window
from PIL import Image

from ratescope.core.resources import MODELS, SAMPLE_MOSAIC
from ratescope.core.synth.mosaic import generate_mosaic
from ratescope.gui.predict.panel import MEASURED_COLUMN, PREDICTED_COLUMN

TIMEOUT_MS = 60_000
pytestmark = pytest.mark.skipif(
    not any(MODELS.glob("specific_fold*.safetensors")), reason="embedded models not present"
)


@pytest.fixture
def window(qtbot, tmp_path):
    yield from shown_window(qtbot, tmp_path, (1500, 950), models_dir=MODELS,
                            timeout_ms=TIMEOUT_MS)  # fmt: skip


def legend_labels(plot) -> list[str]:
    return [label.text for _sample, label in plot.legend.items]


def assert_nothing_predicted(window) -> None:
    panel = window.prediction.panel
    assert window.prediction.prediction is None
    for unit, plot in panel.plots.items():
        assert plot.mean_curve.yData is None or len(plot.mean_curve.yData) == 0
        assert plot.upper.yData is None or len(plot.upper.yData) == 0  # no old ± 1 sd band
        assert plot.tile_curves == [] or all(len(c.yData or []) == 0 for c in plot.tile_curves)
        assert "measured" not in legend_labels(plot)
        for row in range(5):
            assert panel.table.item(row, PREDICTED_COLUMN[unit]).text() in ("", "—")
            assert panel.table.item(row, MEASURED_COLUMN[unit]).text() == ""


def test_opening_the_next_file_leaves_nothing_of_the_last(qtbot, window, tmp_path):
    ctl, align = window.prediction, window.alignment
    qtbot.waitUntil(lambda: ctl.ensemble is not None, timeout=TIMEOUT_MS)
    # A: predicted, with measured values typed in
    with qtbot.waitSignal(align.alignment_changed, timeout=TIMEOUT_MS):
        window.open_path(SAMPLE_MOSAIC)
    align.accept()
    qtbot.waitUntil(lambda: ctl.prediction is not None and ctl.prediction.complete
                    and not ctl.working(), timeout=TIMEOUT_MS)  # fmt: skip
    panel = ctl.panel
    panel.table.item(1, MEASURED_COLUMN["specific"]).setText("150")
    panel.table.item(2, MEASURED_COLUMN["specific"]).setText("140")
    assert legend_labels(panel.plots["specific"]).count("measured") == 1  # one entry, two values
    a_angle = align.panel.angle_label.text()

    # B: another electrode
    b = tmp_path / "b.png"
    Image.fromarray(generate_mosaic(21, height=900, width=4000).image).save(b)
    with qtbot.waitSignal(align.alignment_changed, timeout=TIMEOUT_MS):
        window.open_path(b)
    qtbot.waitUntil(lambda: not align.working(), timeout=TIMEOUT_MS)
    assert_nothing_predicted(window)
    assert align.accepted is None and align.alignment.image_shape[:2] == (900, 4000)
    assert align.panel.angle_label.text() != a_angle

    # C: not an electrode: the alignment fails and the dock shows nothing of B
    c = tmp_path / "c.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (600, 2500, 3), dtype=np.uint8)).save(c)
    errors_before = len(window.dialogs.errors)
    window.open_path(c)
    qtbot.waitUntil(lambda: len(window.dialogs.errors) > errors_before, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not align.working(), timeout=TIMEOUT_MS)
    assert "c.png" in window.dialogs.errors[-1][1]
    assert align.alignment is None and align.accepted is None
    assert align.panel.angle_label.text() == "Collector angle: —"
    assert align.panel.preview.image_item.image is None and align.panel.preview.tile_items == []
    assert not align.overlay.surface.isVisible() and not align.panel.accept_button.isEnabled()
    assert_nothing_predicted(window)
