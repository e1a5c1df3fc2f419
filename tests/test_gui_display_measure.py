"""The mosaic view's display bar (contrast, channel, histogram), keyboard navigation and
measurement tools, in the real window (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from _gui_helpers import window_shown
from PIL import Image
from PySide6 import QtCore


@pytest.fixture
def halves(tmp_path):
    """A 400 x 800 px RGB PNG: the left half dark (30), the right half bright (200)."""
    img = np.full((400, 800, 3), 200, np.uint8)
    img[:, :400] = 30
    img[:, :, 2] //= 2  # a blue channel that differs from the others
    path = tmp_path / "halves.png"
    Image.fromarray(img).save(path)
    return path, img


@pytest.fixture
def shown(qtbot, tmp_path, halves):
    with window_shown(qtbot, tmp_path) as window:
        with qtbot.waitSignal(window.mosaic_view.mosaic_shown, timeout=30_000):
            window.open_path(halves[0])
        yield window, window.mosaic_view, window.mosaic_page


def test_contrast_auto_full_range_and_histogram_region(qtbot, shown, halves):
    _, view, page = shown
    bar = page.display_bar
    qtbot.mouseClick(bar.auto_button, QtCore.Qt.MouseButton.LeftButton)
    low, high = np.percentile(view.overview_data, [0.5, 99.5])
    assert view.levels == pytest.approx((low, high))
    assert tuple(view.overview_item.levels) == pytest.approx((low, high))
    assert bar.region.getRegion() == pytest.approx((low, high))  # the histogram follows
    bar.histogram_button.click()
    assert bar.plot.isVisible() and len(bar._curves) == 3  # one curve per colour channel
    bar.region.setRegion((50, 150))
    bar.region.sigRegionChangeFinished.emit(bar.region)
    assert view.levels == pytest.approx((50, 150))
    qtbot.mouseClick(bar.full_button, QtCore.Qt.MouseButton.LeftButton)
    assert view.levels == (0.0, 255.0)


def test_channel_choice_shows_one_channel_as_gray(shown, halves):
    _, view, page = shown
    combo = page.display_bar.channel_combo
    combo.setCurrentIndex(combo.findText("Blue"))
    shown_image = view.overview_item.image
    assert shown_image.ndim == 2
    np.testing.assert_array_equal(shown_image, view.overview_data[..., 2])
    combo.setCurrentIndex(combo.findText("All channels"))
    assert view.overview_item.image.ndim == 3


def test_keyboard_pans_and_zooms(qtbot, shown):
    _, view, _ = shown
    view.graphics_view.setFocus()
    before = view.view_box.viewRect()
    qtbot.keyClick(view.graphics_view, QtCore.Qt.Key.Key_Right)
    after = view.view_box.viewRect()
    assert after.center().x() - before.center().x() == pytest.approx(0.1 * before.width(), rel=0.05)
    qtbot.keyClick(view.graphics_view, QtCore.Qt.Key.Key_Plus)
    assert view.view_box.viewRect().width() == pytest.approx(after.width() / 1.25, rel=0.05)
    qtbot.keyClick(view.graphics_view, QtCore.Qt.Key.Key_Minus)
    assert view.view_box.viewRect().width() == pytest.approx(after.width(), rel=0.05)


def test_line_length_in_um(shown):
    _, view, page = shown
    tool = page.measure
    tool.start("line")
    a, b = tool.roi.getHandles()
    tool.roi.movePoint(a, QtCore.QPointF(100, 100))
    tool.roi.movePoint(b, QtCore.QPointF(400, 500))
    np.testing.assert_allclose(tool.points(), [[100, 100], [400, 500]], atol=1e-6)
    um = view.mosaic.pixel_size_um
    assert f"length {500 * um:.2f} µm (500 px)" in tool.readout.text()


def test_region_area_and_dark_share(qtbot, shown):
    _, view, page = shown
    tool = page.measure
    tool.start("area")
    corners = [(200, 100), (600, 100), (600, 300), (200, 300)]  # half dark, half bright
    for handle, (x, y) in zip(tool.roi.getHandles(), corners, strict=True):
        tool.roi.movePoint(handle, QtCore.QPointF(x, y))
    tool._update_dark_share()
    qtbot.waitUntil(lambda: "dark (pores + binder)" in tool.readout.text(), timeout=20_000)
    um = view.mosaic.pixel_size_um
    text = tool.readout.text()
    assert f"area {400 * 200 * um * um:.1f} µm²" in text
    share = float(text.split("binder) ")[1].split(" %")[0])
    assert share == pytest.approx(50.0, abs=1.0)
    tool.clear()
    assert tool.roi is None and tool.readout.text() == ""


def test_a_nearly_black_8bit_image_is_stretched_for_display():
    """A channel or label image holding 0-2 in 8 bits showed black; the data stay as read."""
    from ratescope.gui.mosaic.pyramid import display_levels

    labels = np.random.default_rng(0).integers(0, 3, (200, 300)).astype(np.uint8)
    assert display_levels(labels) == (0.0, 2.0)
    photo = np.random.default_rng(1).integers(0, 256, (200, 300, 3)).astype(np.uint8)
    assert display_levels(photo) == (0.0, 255.0)  # ordinary 8-bit: the full range


def test_a_two_channel_czi_offers_its_channels_and_shows_the_dim_one(qtbot, tmp_path):
    """The 2-channel uint8 CZI whose first channel holds 0-2 showed black, with no choice."""
    from pylibCZIrw import czi as pyczi

    path = tmp_path / "two_channels.czi"
    rng = np.random.default_rng(2)
    with pyczi.create_czi(str(path)) as w:
        w.write(rng.integers(0, 3, (200, 400, 1), dtype=np.uint8), location=(0, 0),
                plane={"C": 0, "Z": 0, "T": 0})  # fmt: skip
        w.write(rng.integers(100, 201, (200, 400, 1), dtype=np.uint8), location=(0, 0),
                plane={"C": 1, "Z": 0, "T": 0})  # fmt: skip
        w.write_metadata(channel_names={0: "DAPI", 1: "GFP"}, scale_x=0.2e-6, scale_y=0.2e-6)
    with window_shown(qtbot, tmp_path) as window:
        view, combo = window.mosaic_view, window.mosaic_page.display_bar.channel_combo
        with qtbot.waitSignal(view.mosaic_shown, timeout=30_000):
            window.open_path(path)
        assert [combo.itemText(i) for i in range(combo.count())] == [
            "Channel: DAPI", "Channel: GFP"]  # fmt: skip
        assert view.levels == (0.0, 2.0)  # the dim channel is stretched, not black
        with qtbot.waitSignal(view.mosaic_shown, timeout=30_000):
            combo.setCurrentIndex(1)
        assert window.current_mosaic.metadata["channel"] == 1
        assert 100 <= view.overview_data.min() and view.overview_data.max() <= 200
        assert combo.currentText() == "Channel: GFP"
