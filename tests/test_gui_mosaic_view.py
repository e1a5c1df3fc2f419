"""The mosaic view on a 20 000 × 100 000 lazy pyramid, 16-bit data, and the scale bar."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from _gui_helpers import wait_for_background
from PySide6 import QtCore

from ratescope.core.io.mosaic import Mosaic
from ratescope.gui.background import TaskRunner
from ratescope.gui.mosaic.pyramid import build_overview, choose_level
from ratescope.gui.mosaic.scale_bar import format_um, nice_length
from ratescope.gui.mosaic.view import MosaicView


class SyntheticLevel:
    """A lazy level of any size: pixels are computed from their coordinates when sliced.

    Records every read so tests can check how much was asked for.
    """

    def __init__(self, height: int, width: int, scale: int, reads: list):
        self.shape = (height, width, 3)
        self.dtype = np.dtype(np.uint8)
        self.scale, self.reads = scale, reads

    def __getitem__(self, key):
        rows, cols = key[:2]
        y = np.arange(self.shape[0])[rows] * self.scale
        x = np.arange(self.shape[1])[cols] * self.scale
        self.reads.append((self.scale, len(y), len(x)))
        red = np.broadcast_to((x // 97 % 256).astype(np.uint8), (len(y), len(x)))
        green = np.broadcast_to((y[:, None] // 13 % 256).astype(np.uint8), (len(y), len(x)))
        return np.stack([red, green, np.full_like(red, self.scale)], -1)


def huge_pyramid(reads: list, pyramid: bool = True) -> Mosaic:
    height, width = 20_000, 100_000
    scales = [1, 2, 4, 8, 16, 32] if pyramid else [1]
    levels = [SyntheticLevel(height // s, width // s, s, reads) for s in scales]
    return Mosaic(Path("huge.tif"), "TIFF", levels, 0.123, "metadata")


@pytest.fixture
def view(qtbot):
    widget = MosaicView(TaskRunner())
    qtbot.addWidget(widget)
    widget.resize(800, 500)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    wait_for_background(qtbot, 30_000)


def test_huge_pyramid_shows_overview_then_sharp_visible_region(qtbot, view):
    reads: list = []
    mosaic = huge_pyramid(reads)
    with qtbot.waitSignal(view.mosaic_shown, timeout=10_000):
        view.set_mosaic(mosaic)
    assert view.overview_item.image.shape == (312, 1562, 3)
    assert view.overview_item.image[0, 0, 2] == 16  # read from level 4, averaged 4 × 4
    assert all(scale == 16 for scale, _rows, _cols in reads)

    reads.clear()
    started = time.perf_counter()
    view.view_box.setRange(QtCore.QRectF(50_000, 10_000, 400, 250), padding=0)
    gui_thread_ms = (time.perf_counter() - started) * 1000
    qtbot.waitUntil(
        lambda: view.detail_region is not None and not view.busy_reading, timeout=10_000
    )

    assert gui_thread_ms < 100  # zooming never waits for a read
    assert view.detail_region.level == 0
    assert view.detail_item.isVisible()
    assert all(rows * cols <= 4_000_000 for _scale, rows, cols in reads), reads
    rect = view.detail_item.mapRectToParent(view.detail_item.boundingRect())
    assert rect.contains(view.view_box.viewRect())
    detail = view.detail_item.image
    region = view.detail_region
    assert detail[0, 0, 0] == (region.x0 // 97) % 256 and detail[0, 0, 1] == (region.y0 // 13) % 256


def test_zoom_level_selects_matching_pyramid_level(qtbot, view):
    mosaic = huge_pyramid([])
    assert choose_level(mosaic, 0.5) == 0
    assert choose_level(mosaic, 3.0) == 1
    assert choose_level(mosaic, 9.9) == 3
    assert choose_level(mosaic, 1000.0) == 5


def test_non_pyramidal_large_image_gets_a_downsampled_overview(qtbot):
    reads: list = []
    levels = [SyntheticLevel(7100, 9000, 1, reads)]  # > SMALL_IMAGE_PIXELS, one level
    mosaic = Mosaic(Path("flat.tif"), "TIFF", levels, 0.123, "default")
    fractions: list[float] = []
    overview, scale = build_overview(mosaic, max_side=1500, progress=fractions.append)
    assert scale == 6 and overview.shape == (1183, 1500, 3)
    assert fractions[-1] == 1.0
    assert all(cols == 9000 and rows < 7100 for _s, rows, cols in reads)
    block = levels[0][6:12, 600:606].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(overview[1, 100], block, atol=0.5)


def test_uint16_keeps_its_data_and_gets_contrast_from_what_is_used(qtbot, view):
    rng = np.random.default_rng(1)
    image = rng.integers(200, 4000, size=(400, 900), dtype=np.uint16)  # 12-bit camera
    mosaic = Mosaic(Path("gray16.tif"), "TIFF", [image], 0.3, "metadata")
    with qtbot.waitSignal(view.mosaic_shown, timeout=10_000):
        view.set_mosaic(mosaic)
    shown = view.overview_item.image
    assert shown.dtype == np.uint16
    np.testing.assert_array_equal(shown, image)
    low, high = view.overview_item.levels
    assert 200 <= low < 260 and 3940 < high <= 4000


def test_scale_bar_label_follows_zoom_and_stays_screen_sized(qtbot, view):
    image = np.zeros((1000, 4000), np.uint8)
    mosaic = Mosaic(Path("bar.png"), "PNG", [image], 0.123, "default")
    with qtbot.waitSignal(view.mosaic_shown, timeout=10_000):
        view.set_mosaic(mosaic)
    bar = view.scale_bar
    lengths = []
    for width in (4000, 400, 40):
        view.view_box.setRange(QtCore.QRectF(0, 0, width, width / 4), padding=0)
        view.repaint()  # the painted transform is the independent truth
        um_per_screen_px = view.view_box.viewPixelSize()[0] * 0.123
        assert bar.bar_px * um_per_screen_px == pytest.approx(bar.length_um)
        assert 24 <= bar.bar_px <= 220
        lengths.append(bar.length_um)
    assert lengths[0] > lengths[1] > lengths[2]
    assert bar.label == format_um(lengths[2])


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(73.0, 50.0), (0.31, 0.2), (1999.0, 1000.0), (1.0, 1.0), (9.99, 5.0), (0.0042, 0.002)],
)
def test_nice_length_is_one_two_or_five_times_a_power_of_ten(limit, expected):
    assert nice_length(limit) == pytest.approx(expected)


def test_labels_are_always_in_micrometres():
    assert format_um(0.2) == "0.2 µm"
    assert format_um(5000.0) == "5000 µm"
    assert format_um(50.0) == "50 µm"


def test_painting_a_paper_sized_mosaic_never_stalls_the_gui_thread(qtbot, view):
    image = np.random.default_rng(2).integers(0, 256, size=(975, 6300, 3), dtype=np.uint8)
    mosaic = Mosaic(Path("paper.czi"), "CZI", [image], 0.123, "metadata")
    with qtbot.waitSignal(view.mosaic_shown, timeout=10_000):
        view.set_mosaic(mosaic)
    assert max(view.overview_item.image.shape) <= 2048
    viewport = view.graphics_view.viewport()
    worst_ms = 0.0
    for rect in (None, QtCore.QRectF(0, 0, 3000, 500), QtCore.QRectF(1000, 200, 700, 400)):
        if rect is None:
            view.fit_to_window()
        else:
            view.view_box.setRange(rect, padding=0)
        qtbot.waitUntil(lambda: not view.busy_reading, timeout=10_000)
        started = time.perf_counter()
        viewport.repaint()
        worst_ms = max(worst_ms, (time.perf_counter() - started) * 1000)
    assert view.detail_item.isVisible() and view.detail_region.step == 1
    assert worst_ms < 250  # pyqtgraph's own downsampling took ~5 s here
