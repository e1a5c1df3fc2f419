"""The 3D workspace's "Latent features" panel driven like a user: open a synthetic label
volume written by the real HDF5 writer, show the panel, read the correlations, the
regressed porosity and the latent-space scatter, pin the volume, open a second one and see
both groups. Expected values come from ``core`` directly."""

from __future__ import annotations

import numpy as np
import pytest
from _gui_helpers import shown_window

from ratescope.core.models.cae import load_model
from ratescope.core.resources import MODELS
from ratescope.core.synth.volume import VolumeParams, make_volume, write_hdf5
from ratescope.core.volume.latents import encode_volume, load_reference
from ratescope.gui.volume.page import VolumeQuestions

TIMEOUT_MS = 60_000
SHAPE = (30, 224, 224)  # 2 covering windows (slices 0-23 and 6-29), one in-plane tile


class Questions(VolumeQuestions):
    def ask_voxel_size(self, parent, path, default_um):
        return default_um


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """An uncalendered, open electrode and a dense, calendered one (real HDF5 files)."""
    d = tmp_path_factory.mktemp("vols")
    out = {}
    for name, c, act in (("open.h5", 0.0, 0.38), ("dense.h5", 0.55, 0.46)):
        v = make_volume(
            VolumeParams(shape=SHAPE, compression=c, active_fraction=act, radius_um=3.5, seed=4)
        )
        write_hdf5(d / name, v.labels, metadata=v.metadata())
        out[name] = (d / name, v.labels)
    return out


@pytest.fixture
def window(qtbot, tmp_path):
    def prepare(win):
        win.volume_page.questions = Questions()
        win.volume_page.model_path = MODELS / "cae.safetensors"

    yield from shown_window(qtbot, tmp_path, (1500, 1000), timeout_ms=TIMEOUT_MS, prepare=prepare)


def test_latent_panel_fills_and_compares_two_volumes(qtbot, window, volumes):
    ref = load_reference()
    model = load_model()[0]
    path_a, labels_a = volumes["open.h5"]
    ws = window.volume_page.workspace
    with qtbot.waitSignal(ws.block_shown, timeout=TIMEOUT_MS):
        window.open_path(path_a)
    lat = ws.latents
    assert not lat.panel.isVisible() and lat.result is None  # nothing encoded while hidden
    ws.latent_box.setChecked(True)
    assert lat.panel.isVisible()
    qtbot.waitUntil(lambda: lat.result is not None, timeout=TIMEOUT_MS)

    # the correlation table and its plain-words labels, from the committed analysis
    table = lat.panel.table
    r = ref.pearson()["porosity"]
    for row in range(10):
        assert table.item(row, 0).text() == f"{r[row]:+.2f}".replace("-", "−")
        assert table.item(row, 4).text() in ref.labels[row]

    # every window of the volume, encoded as core encodes it, projected with the basis
    want = encode_volume(model, labels_a)
    np.testing.assert_allclose(lat.result.latents, want.latents, rtol=1e-4, atol=1e-4)
    groups = lat.panel.groups()
    assert len(groups["reference"]) == len(ref.reference_points) > 0
    np.testing.assert_allclose(groups["reference"], ref.reference_points, atol=1e-6)
    np.testing.assert_allclose(
        groups["open"], ref.projection.project(want.latents), rtol=1e-4, atol=1e-3
    )
    assert len(groups["open"]) == 2

    # the read-out: porosity regressed from the current window's latents, beside measured
    z = ws.blocks.stats[0].block.latents[0]
    text = lat.panel.summary.text()
    assert f"<b>{100 * float(ref.porosity(z)):.1f} %</b>" in text
    assert f"measured in this window: {100 * np.mean(labels_a[:24] == 0):.1f} %" in text
    assert f"held-out R² {ref.r2_heldout:.2f}" in text
    assert f"gives R² {ref.baseline_r2_heldout:.2f}" in text
    table_z = [float(table.item(row, 3).text()) for row in range(10)]
    np.testing.assert_allclose(table_z, z, atol=0.006)
    star = lat.panel.marker.getData()
    np.testing.assert_allclose([star[0][0], star[1][0]], ref.projection.project(z[None])[0])

    # pin, open a second volume: both groups are drawn, apart
    lat.panel.pin_button.click()
    path_b, labels_b = volumes["dense.h5"]
    with qtbot.waitSignal(ws.block_shown, timeout=TIMEOUT_MS):
        window.open_path(path_b)
    qtbot.waitUntil(
        lambda: lat.result is not None and ws.volume.source.path.name == "dense.h5",
        timeout=TIMEOUT_MS,
    )
    qtbot.waitUntil(lambda: lat._task is None, timeout=TIMEOUT_MS)
    groups = lat.panel.groups()
    assert set(groups) == {"reference", "open", "pinned: open.h5"}
    np.testing.assert_allclose(
        groups["open"],
        ref.projection.project(encode_volume(model, labels_b).latents),
        rtol=1e-4,
        atol=1e-3,
    )
    np.testing.assert_allclose(groups["pinned: open.h5"], ref.projection.project(want.latents),
                               rtol=1e-4, atol=1e-3)  # fmt: skip
    gap = np.linalg.norm(groups["open"].mean(0) - groups["pinned: open.h5"].mean(0))
    assert gap > 0.1 * np.ptp(groups["reference"], axis=0).max()
    assert np.mean(labels_b == 0) < np.mean(labels_a == 0) - 0.1  # the volumes differ
    # the dense one is denser than every reference window: the read-out says it extrapolates
    assert np.mean(labels_b == 0) < ref.reference_porosity.min()
    assert "is outside the reference windows'" in lat.panel.summary.text()
    assert "extrapolates" in lat.panel.summary.text()
    lat.panel.clear_button.click()
    assert set(lat.panel.groups()) == {"reference", "open"}
    assert window.dialogs.errors == []
