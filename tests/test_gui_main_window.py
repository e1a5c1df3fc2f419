"""The main window, driven like a user would: drops, menus, dialogs, recent files."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _gui_helpers import RecordingDialogs, shown_window
from PySide6 import QtCore, QtGui, QtWidgets

from ratescope.core.io.czi import write_czi_mosaic
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.gui.shell.main_window import MainWindow

LOAD_TIMEOUT_MS = 15_000


class ScriptedDialogs(RecordingDialogs):
    """Answers every question from a script and records what was asked."""

    def __init__(self, scene: int | None = 0, pixel_size: float | None = None):
        super().__init__()
        self.scene_questions: list[list[str]] = []
        self.pixel_size_questions: list[tuple[Path, float]] = []
        self.scene, self.pixel_size = scene, pixel_size
        self.next_file: str | None = None

    def choose_scene(self, parent, path, scenes, previews=None):
        self.scene_questions.append(list(scenes))
        self.scene_previews = previews
        return self.scene

    def ask_pixel_size(self, parent, path, default_um):
        self.pixel_size_questions.append((path, default_um))
        return self.pixel_size

    def open_file_name(self, parent, directory):
        return self.next_file

    def about(self, parent, title, text):
        self.errors.append((title, "about"))


@pytest.fixture
def settings(tmp_path):
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, tmp_path, settings):
    dialogs = ScriptedDialogs()
    yield from shown_window(qtbot, tmp_path, (1000, 700), settings=settings, dialogs=dialogs)


def write_tiff(path: Path, image: np.ndarray, pixel_size_um: float | None) -> Path:
    """A TIFF as a microscope exports it, with the pixel size in its resolution tags."""
    if pixel_size_um is None:
        tifffile.imwrite(path, image)
    else:
        per_cm = 1e4 / pixel_size_um
        tifffile.imwrite(path, image, resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
    return path


def rgb_gradient(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], -1).astype(np.uint8)


def drop(window: QtWidgets.QWidget, paths: list[Path]) -> None:
    """Drag ``paths`` over the window and drop them, as the file manager does."""
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    centre = window.rect().center()
    action, button = QtCore.Qt.DropAction.CopyAction, QtCore.Qt.MouseButton.LeftButton
    no_mod = QtCore.Qt.KeyboardModifier.NoModifier
    enter = QtGui.QDragEnterEvent(centre, action, mime, button, no_mod)
    QtWidgets.QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    dropped = QtGui.QDropEvent(QtCore.QPointF(centre), action, mime, button, no_mod)
    QtWidgets.QApplication.sendEvent(window, dropped)
    assert dropped.isAccepted()


def test_dropped_tiff_is_shown_with_scale_bar_and_pixel_size(qtbot, window, tmp_path):
    image = rgb_gradient(300, 1200)
    path = write_tiff(tmp_path / "electrode.tif", image, pixel_size_um=0.25)

    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        drop(window, [path])

    assert window.current_workspace == "mosaic"
    shown = window.mosaic_view.overview_item.image
    assert shown.shape == (300, 1200, 3) and shown.dtype == np.uint8
    np.testing.assert_array_equal(shown, image)  # RGB order and values untouched
    bar = window.mosaic_view.scale_bar
    assert bar.isVisible()
    assert re.fullmatch(r"[125](0*|\.0*)? µm|0\.0*[125] µm", bar.label), bar.label
    window.repaint()  # the painted transform is the independent truth
    um_per_screen_px = window.mosaic_view.view_box.viewPixelSize()[0] * 0.25
    assert bar.bar_px * um_per_screen_px == pytest.approx(bar.length_um, rel=1e-6)
    assert 20 <= bar.bar_px <= 220
    view_box = window.mosaic_view.view_box  # fitted: all 1200 px across the view
    assert 1200 / view_box.width() <= um_per_screen_px / 0.25 <= 1.1 * 1200 / view_box.width()
    assert window.pixel_size_label.text() == "Pixel 0.25 µm (from file)"
    assert "electrode.tif" in window.windowTitle()
    assert window.settings.recent_files[0] == str(path.resolve())
    assert dialogs_untouched(window)


def dialogs_untouched(window) -> bool:
    return not window.dialogs.errors and not window.dialogs.pixel_size_questions


def test_cursor_position_is_reported_in_micrometres(qtbot, window, tmp_path):
    path = write_tiff(tmp_path / "a.tif", rgb_gradient(200, 800), pixel_size_um=0.5)
    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        window.open_path(path)
    view_box = window.mosaic_view.view_box
    scene_pos = view_box.mapViewToScene(QtCore.QPointF(100.5, 40.5))
    window.mosaic_view.graphics_view.scene().sigMouseMoved.emit(scene_pos)
    assert window.cursor_label.text() == "x 50.25 µm  y 20.25 µm  (px 100, 40)"


def test_corrupt_file_reports_its_name_and_window_stays_usable(qtbot, window, tmp_path):
    corrupt = tmp_path / "broken_scan.tif"
    corrupt.write_bytes(b"II*\x00" + bytes(range(256)) * 8)

    with qtbot.waitSignal(window.opener.failed, timeout=LOAD_TIMEOUT_MS):
        drop(window, [corrupt])

    assert len(window.dialogs.errors) == 1
    title, text = window.dialogs.errors[0]
    assert "broken_scan.tif" in text and "Could not open" in text
    assert window.current_workspace == "welcome"
    assert window.settings.recent_files == []
    good = write_tiff(tmp_path / "good.tif", rgb_gradient(100, 300), 0.123)
    started = time.perf_counter()
    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        drop(window, [good])
    assert time.perf_counter() - started < 10
    assert window.current_mosaic.path == good


def test_missing_pixel_size_is_asked_once_per_file(qtbot, window, tmp_path):
    window.dialogs.pixel_size = 0.5
    path = write_tiff(tmp_path / "no_scale.tif", rgb_gradient(100, 400), pixel_size_um=None)
    for _ in range(2):
        with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
            window.open_path(path)
    assert len(window.dialogs.pixel_size_questions) == 1
    assert window.dialogs.pixel_size_questions[0][1] == pytest.approx(0.123)
    assert window.current_mosaic.pixel_size_um == 0.5
    assert window.pixel_size_label.text() == "Pixel 0.5 µm (entered)"
    assert window.mosaic_view.scale_bar.pixel_size_um == 0.5


def test_declined_pixel_size_keeps_the_assumed_default(qtbot, window, tmp_path):
    window.dialogs.pixel_size = None
    path = write_tiff(tmp_path / "no_scale.tif", rgb_gradient(100, 400), pixel_size_um=None)
    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        window.open_path(path)
    assert window.pixel_size_label.text() == "Pixel 0.123 µm (assumed)"


def test_multi_scene_czi_asks_which_scene(qtbot, window, tmp_path):
    window.dialogs.scene = 1
    first = np.full((256, 384), 1000, np.uint16)
    second = np.full((256, 512), 3000, np.uint16)
    second[:, ::7] = 100
    path = tmp_path / "two_scenes.czi"
    write_czi_mosaic(path, [first, second], tile_shape=(128, 128), overlap=16, pixel_size_um=0.2)

    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        drop(window, [path])

    assert len(window.dialogs.scene_questions) == 1
    assert len(window.dialogs.scene_questions[0]) == 2
    # each scene offered with its size and a thumbnail
    sizes = [(p["width"], p["height"]) for p in window.dialogs.scene_previews]
    assert sizes == [(384, 256), (512, 256)]
    assert window.dialogs.scene_previews[1]["thumbnail"].max() == 3000
    from ratescope.gui.shell.scene_dialog import SceneDialog

    dialog = SceneDialog(window, path, window.dialogs.scene_questions[0],
                         window.dialogs.scene_previews)  # fmt: skip
    qtbot.addWidget(dialog)
    assert dialog.list.count() == 2 and not dialog.list.item(1).icon().isNull()
    assert dialog.list.item(1).text() == "Scene #2 — 512 × 256 px (102 × 51 µm)"
    dialog.list.setCurrentRow(1)
    dialog.accept()
    assert dialog.chosen == 1
    assert window.current_mosaic.scene == 1
    np.testing.assert_array_equal(window.mosaic_view.overview_item.image, second)
    assert window.pixel_size_label.text() == "Pixel 0.2 µm (from file)"


def test_file_open_menu_and_recent_files_persist(qtbot, tmp_path, settings, window):
    path = write_tiff(tmp_path / "menu.tif", rgb_gradient(100, 300), 0.123)
    window.dialogs.next_file = str(path)
    open_action = next(a for a in window.file_menu.actions() if a.text() == "&Open…")
    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        open_action.trigger()
    window.resize(640, 470)  # within the 800 × 600 offscreen screen
    window.close()

    again = MainWindow(settings=settings, dialogs=ScriptedDialogs())
    qtbot.addWidget(again)
    assert again.size() == QtCore.QSize(640, 470)
    assert again.settings.last_directory == str(tmp_path.resolve())
    recent = [a for a in again.recent_menu.actions() if a.toolTip() == str(path.resolve())]
    assert len(recent) == 1
    item = again.welcome.recent_list.item(0)
    assert item.data(QtCore.Qt.ItemDataRole.UserRole) == str(path.resolve())
    with qtbot.waitSignal(again.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        recent[0].trigger()
    assert again.current_mosaic.path.resolve() == path.resolve()


def test_workspaces_can_be_added_and_switched(qtbot, window):
    page = QtWidgets.QLabel("alignment goes here")
    action = window.add_workspace("align", page, "Alignment", "Ctrl+2")
    action.trigger()
    assert window.current_workspace == "align"
    dock = QtWidgets.QDockWidget("Prediction")
    dock.setObjectName("prediction_dock")
    window.add_panel(dock)
    assert dock.toggleViewAction() in window.panels_menu.actions()
    window.show_workspace("welcome")
    assert window.stack.currentWidget() is window.welcome


@pytest.mark.skipif(not SAMPLE_MOSAIC.exists(), reason="bundled sample not built yet")
def test_open_sample_button_shows_the_bundled_czi(qtbot, window):
    assert window.welcome.open_sample_button.isEnabled()
    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        qtbot.mouseClick(window.welcome.open_sample_button, QtCore.Qt.MouseButton.LeftButton)
    mosaic = window.current_mosaic
    assert mosaic.format == "CZI" and mosaic.path == SAMPLE_MOSAIC
    assert window.pixel_size_label.text() == f"Pixel {mosaic.pixel_size_um:.4g} µm (from file)"
    overview = window.mosaic_view.overview_item.image
    assert overview.shape[2] == 3 and max(overview.shape[:2]) <= 2048
    assert window.mosaic_view.scale_bar.isVisible() and window.mosaic_view.scale_bar.label


def test_clear_recent_files_scale_bar_toggle_and_about(qtbot, window, tmp_path):
    path = write_tiff(tmp_path / "recent.tif", rgb_gradient(100, 300), 0.25)
    window.scale_bar_action.setChecked(False)  # before any mosaic: nothing to hide yet
    with qtbot.waitSignal(window.mosaic_opened, timeout=LOAD_TIMEOUT_MS):
        window.open_path(path)
    assert not window.mosaic_view.scale_bar.isVisible()  # the unchecked action is obeyed
    window.scale_bar_action.setChecked(True)
    assert window.mosaic_view.scale_bar.isVisible()
    window.scale_bar_action.setChecked(False)
    assert not window.mosaic_view.scale_bar.isVisible()

    listed = window.welcome.recent_list
    assert listed.count() == 1
    assert listed.item(0).data(QtCore.Qt.ItemDataRole.UserRole) == str(path.resolve())
    clear = next(a for a in window.recent_menu.actions() if a.text() == "&Clear Recent Files")
    assert clear.isEnabled()
    clear.trigger()
    assert window.settings.recent_files == []
    assert [listed.item(i).text() for i in range(listed.count())] == ["No recent files yet"]
    texts = [a.text() for a in window.recent_menu.actions() if not a.isSeparator()]
    assert texts == ["&Clear Recent Files"]
    assert not window.recent_menu.actions()[-1].isEnabled()

    about = next(a for a in window.help_menu.actions() if a.text() == "&About RateScope")
    about.trigger()
    assert window.dialogs.errors == [("About RateScope", "about")]
