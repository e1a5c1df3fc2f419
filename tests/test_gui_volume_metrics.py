"""The 3D workspace's Microstructure panel driven like a user: open a real HDF5 label volume,
show the panel, cancel the measurement, measure again, read the figures and the rate curve.
Reference values come from ``core`` directly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from _gui_helpers import cae_model_file, shown_window, wait_for_background

from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5
from ratescope.core.volume.metrics import microstructure_metrics

TIMEOUT_MS = 90_000
VOXEL_UM = 0.6


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return cae_model_file(tmp_path_factory)


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    """Particles of 3.5 µm radius (inside the label table's 3-8 µm) at 0.6 µm voxels."""
    params = VolumeParams(
        shape=(24, 96, 96), radius_um=3.5, voxel_size_um=VOXEL_UM, active_fraction=0.5, seed=5
    )
    return make_volume(params).labels


@pytest.fixture
def volume_file(tmp_path, labels) -> Path:
    path = tmp_path / "electrode.h5"
    write_hdf5(path, labels, voxel_size_um=VOXEL_UM)  # voxel size in the file: no question
    return path


@pytest.fixture
def window(qtbot, tmp_path, model_path):
    def prepare(win):
        win.volume_page.model_path = model_path

    yield from shown_window(qtbot, tmp_path, (1500, 1000), timeout_ms=TIMEOUT_MS, prepare=prepare)


def test_microstructure_panel_measures_cancels_and_measures_again(
    qtbot, window, volume_file, labels
):
    with qtbot.waitSignal(window.volume_page.workspace.opened, timeout=TIMEOUT_MS):
        window.open_path(volume_file)
    ws = window.volume_page.workspace
    metrics, panel = ws.metrics, ws.metrics.panel
    assert not panel.isVisible() and metrics.result is None  # not measured behind one's back

    # showing the panel starts the measurement; Cancel stops it and nothing arrives
    ws.metrics_box.setChecked(True)
    assert panel.isVisible() and metrics.busy and panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    assert not metrics.busy and panel.measure_button.isEnabled()
    assert "Cancelled" in panel.status.text()
    wait_for_background(qtbot, TIMEOUT_MS)
    assert metrics.result is None and panel.text(0) == "—"

    # Measure again: the figures are core's
    panel.measure_button.click()
    assert metrics.busy
    qtbot.waitUntil(lambda: metrics.result is not None, timeout=TIMEOUT_MS)
    ref = microstructure_metrics(labels, voxel_um=VOXEL_UM)
    assert panel.text(0) == f"{ref.tortuosity.tau:.3f}"
    assert ref.tortuosity.percolating and ref.tortuosity.tau > 1
    p = ref.particles
    assert panel.text(5).startswith(f"{p.d10_um:.2f} / {p.d50_um:.2f} / {p.d90_um:.2f} µm")
    assert panel.text(6) == f"{ref.specific_surface_um:.4f} µm⁻¹"
    assert panel.text(4).startswith(f"{100 * ref.connectivity.percolating_fraction:.2f} %")
    assert ref.physics["notes"] == []  # both curves inside the table
    for name in ("bruggeman", "measured_tortuosity"):
        np.testing.assert_allclose(
            panel.curve_values(name), ref.physics["curves"][name]["specific"], rtol=1e-9
        )
    panel.unit_combo.setCurrentIndex(1)  # Ah/L
    np.testing.assert_allclose(
        panel.curve_values("bruggeman"), ref.physics["curves"]["bruggeman"]["volumetric"]
    )

    # Export CSV: every figure and both curves, as measured
    out = volume_file.with_name("metrics.csv")
    ws.questions.save_name = lambda *_args: str(out)
    assert panel.export_button.isEnabled()
    panel.export_button.click()
    qtbot.waitUntil(lambda: out.is_file() and "Wrote" in panel.status.text(), timeout=TIMEOUT_MS)
    rows = dict(csv.reader(out.open(encoding="utf-8")))
    assert rows["source"] == volume_file.name
    assert float(rows["tortuosity.factor"]) == pytest.approx(ref.tortuosity.tau)
    assert float(rows["particle_size.d50_um"]) == pytest.approx(p.d50_um)
    five = ref.physics["curves"]["measured_tortuosity"]["specific"][-1]
    assert float(rows["physics.curves.measured_tortuosity.specific.5C"]) == pytest.approx(five)

    # the status bar's Cancel (every task) also stops it
    panel.measure_button.click()
    assert metrics.busy
    window.runner.cancel_all()
    assert not metrics.busy and "Cancelled" in panel.status.text()
    wait_for_background(qtbot, TIMEOUT_MS)
    assert window.dialogs.errors == []
