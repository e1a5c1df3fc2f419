"""The physics cross-check in the window: open the sample, accept, and read the measured
microstructure, the physics curves and column, the verdict; show the measured phases on
the mosaic; the measurement survives a saved session."""

from __future__ import annotations

import numpy as np
import pytest
from _gui_helpers import shown_window

from ratescope.core.constants import UNITS
from ratescope.core.resources import MODELS, SAMPLE_MOSAIC
from ratescope.core.session import Session, load_session, save_session
from ratescope.gui.predict.panel import PHYSICS_COLUMN

TIMEOUT_MS = 90_000

needs_models = pytest.mark.skipif(
    not all(any(MODELS.glob(f"{u}_fold*.safetensors")) for u in UNITS),
    reason="the embedded models are needed",
)


@pytest.fixture
def window(qtbot, tmp_path):
    yield from shown_window(qtbot, tmp_path, (1500, 950), models_dir=MODELS, timeout_ms=TIMEOUT_MS)


@needs_models
def test_prediction_panel_shows_the_physics_cross_check_and_phases(qtbot, window, tmp_path):
    ctl = window.prediction
    qtbot.waitUntil(lambda: ctl.ensemble is not None, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.alignment.alignment_changed, timeout=TIMEOUT_MS):
        window.open_path(SAMPLE_MOSAIC)
    window.alignment.accept()
    qtbot.waitUntil(
        lambda: ctl.prediction is not None and ctl.prediction.complete and not ctl.working(),
        timeout=TIMEOUT_MS,
    )
    est = ctl.prediction.physics
    assert est is not None and est.micro is not None
    panel = ctl.panel
    for unit, plot in panel.plots.items():
        x, y = plot.physics_curve.getData()
        assert np.allclose(y, est.curves[unit].mean)
        cells = [panel.table.item(r, PHYSICS_COLUMN[unit]).text() for r in range(5)]
        assert all("±" in c for c in cells)
        assert float(cells[-1].split("±")[0]) == pytest.approx(est.curves[unit].mean[-1], abs=0.06)
    assert panel.physics_label.isVisible()
    assert f"porosity {est.micro.porosity:.3f}" in panel.physics_label.text()
    assert "the CNN" in panel.physics_label.text()  # the verdict, in the same line
    assert f"d10 / d50 / d90 = {est.micro.d10_um:.1f}" in panel.physics_label.toolTip()

    # the measured phases, drawn over the measured coating in the mosaic view
    assert panel.phases_check.isEnabled()
    panel.phases_check.setChecked(True)
    overlay = ctl.phase_overlay
    assert overlay is not None and len(overlay.items) == len(est.strips)
    view_box = window.mosaic_view.view_box
    rect = overlay.items[0].mapRectToView(overlay.items[0].boundingRect())
    assert all(item in view_box.addedItems for item in overlay.items)
    a = ctl.alignment
    # the strip lies on the coating: between the surface line and the collector
    assert a.surface.mean_y - 120 < rect.center().y() < a.collector.y0 + 10
    panel.phases_check.setChecked(False)
    assert overlay.items == []

    # a saved session keeps the measurement (the curves are re-read from the table)
    path = save_session(Session(source_path=SAMPLE_MOSAIC, alignment=a,
                                prediction=ctl.prediction), tmp_path / "s.ratescope")  # fmt: skip
    loaded = load_session(path).prediction
    assert loaded.model == ctl.prediction.model and loaded.model.startswith("Embedded")
    back = loaded.physics
    assert back.micro.porosity == pytest.approx(est.micro.porosity)
    for unit in UNITS:
        assert np.allclose(back.curves[unit].mean, est.curves[unit].mean)


def far_from_physics():
    """A prediction whose 5C value lies far above the physics of its measured coating."""
    from test_report_helpers import fake_prediction

    from ratescope.core.measure import Microstructure, physics_estimate

    micro = Microstructure(0.42, 0.3, 0.01, 5, 8.6, 13, 5.0, 0.2, 52.0, 200, 2e4, 90.0)
    pred = fake_prediction()
    pred.physics = physics_estimate(micro)
    for unit, up in pred.units.items():
        up.mean = pred.physics.curves[unit].mean.copy()
    pred.units["specific"].mean[-1] += 80.0
    return pred


def test_a_disagreement_is_shown_amber_in_the_panel_and_the_pdf(qtbot, tmp_path):
    import shutil
    import subprocess

    from test_report_helpers import cards

    from ratescope.core.io import load_mosaic
    from ratescope.core.report import sample_report, write_pdf
    from ratescope.gui.predict.panel import DISAGREE_STYLE, PredictPanel

    pred = far_from_physics()
    panel = PredictPanel()
    qtbot.addWidget(panel)
    panel.show_prediction(pred, cards())
    text = panel.physics_label.text()
    assert text.startswith("⚠") and "disagrees with the CNN at 5C Ah/kg" in text
    assert panel.physics_label.styleSheet() == DISAGREE_STYLE
    assert "above the physics estimate at 5C" in panel.physics_label.toolTip()
    assert not panel.phases_check.isEnabled()  # no strips: measured elsewhere
    panel.show_prediction(None)
    assert not panel.physics_label.isVisible() and panel.table.item(0, 5).text() == ""

    if shutil.which("pdftotext") is None:
        return
    rep = sample_report(load_mosaic(SAMPLE_MOSAIC), pred, None, cards())
    out = write_pdf([rep], tmp_path / "r.pdf")
    pdf = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "CNN AND PHYSICS DISAGREE" in pdf and "physics (measured)" in pdf
