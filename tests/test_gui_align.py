"""Alignment confirmation driven like a user would: drag, undo, toggle, thresholds, accept."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from _gui_helpers import shown_window
from PySide6 import QtCore

from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.gui.align.preview import tile_tooltip

TIMEOUT_MS = 30_000


@pytest.fixture
def window(qtbot, tmp_path):
    yield from shown_window(qtbot, tmp_path, (1400, 900), timeout_ms=TIMEOUT_MS)


def open_and_wait(qtbot, window, path):
    ctl = window.alignment
    with qtbot.waitSignal(ctl.alignment_changed, timeout=TIMEOUT_MS):
        window.open_path(path)
    return ctl


def wait_for(qtbot, ctl, predicate):
    qtbot.waitUntil(
        lambda: ctl.alignment is not None and predicate(ctl.alignment) and not ctl.working(),
        timeout=TIMEOUT_MS,
    )


def click_item(qtbot, view, item):
    """A real left click on the centre of a graphics item of a pyqtgraph view."""
    centre = item.mapToScene(item.boundingRect().center())
    point = view.mapFromScene(centre)
    qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)


def tile_rects(alignment):
    return [t.rect for t in alignment.tiles]


def test_drag_undo_toggle_accept_on_the_sample(qtbot, window):
    ctl = open_and_wait(qtbot, window, SAMPLE_MOSAIC)
    first = ctl.alignment
    assert 1.0 < first.angle_deg < 1.4  # the sample is tilted by 1.2°
    assert ctl.panel.angle_label.text() == f"Collector angle: {first.angle_deg:+.2f}°"
    assert len(ctl.panel.preview.tile_items) == len(first.tiles) > 3
    thickness = first.coating_thickness_px() * 0.123
    assert ctl.panel.summary_label.text().startswith(f"Coating {thickness:.1f} µm · ")
    assert 40 < thickness < 60  # the sample's coating, about 50 µm
    assert ctl.overlay.collector.isVisible() and ctl.overlay.surface.isVisible()

    # drag the collector's right handle 60 px up, as the mouse would (pyqtgraph's API)
    roi = ctl.overlay.collector
    right = roi.getHandles()[1]
    end = roi.mapToParent(right.pos())
    roi.movePoint(right, QtCore.QPointF(end.x(), end.y() - 60), finish=False)
    live = ctl.panel.angle_label.text()
    assert live != f"Collector angle: {first.angle_deg:+.2f}°"  # shown while dragging
    roi.movePoint(right, QtCore.QPointF(end.x(), end.y() - 60), finish=True)
    wait_for(qtbot, ctl, lambda a: a is not first and a.collector != first.collector)
    moved = ctl.alignment
    expected = first.angle_deg + np.degrees(60 / (first.collector.x1 - first.collector.x0))
    assert moved.angle_deg == pytest.approx(expected, abs=0.01)
    assert ctl.panel.angle_label.text() == live == f"Collector angle: {moved.angle_deg:+.2f}°"
    assert tile_rects(moved) != tile_rects(first)
    assert ctl.undo_stack.undoText() == "Move collector"

    # Ctrl+Z: angle, line and tiles back
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    back = ctl.alignment
    assert back.angle_deg == pytest.approx(first.angle_deg, abs=1e-9)
    assert tile_rects(back) == tile_rects(first)
    assert ctl.panel.angle_label.text() == f"Collector angle: {first.angle_deg:+.2f}°"
    assert roi.ends()[3] == pytest.approx(first.collector.y1, abs=1e-6)
    # Ctrl+Shift+Z redoes it
    redo = QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, redo)
    assert ctl.alignment.angle_deg == pytest.approx(moved.angle_deg, abs=1e-9)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)

    # click a tile: it flips; its tooltip says why
    index = next(i for i, t in enumerate(first.tiles) if not t.kept)
    item = ctl.panel.preview.tile_items[index]
    assert "rejected" in item.toolTip() and first.tiles[index].reason in item.toolTip()
    click_item(qtbot, ctl.panel.preview, item)
    assert ctl.alignment.tiles[index].kept and ctl.alignment.tiles[index].override is True
    assert "kept by you" in ctl.panel.preview.tile_items[index].toolTip()
    assert len(ctl.alignment.kept) == len(first.kept) + 1

    with qtbot.waitSignal(ctl.alignment_accepted) as accepted:
        qtbot.mouseClick(ctl.panel.accept_button, QtCore.Qt.MouseButton.LeftButton)
    final = accepted.args[0]
    assert final.tiles[index].kept and final.tiles[index].override is True
    assert final.to_dict()["tiles"][index]["override"] is True
    assert final.angle_deg == pytest.approx(first.angle_deg, abs=1e-9)
    # the toggle is undoable too
    ctl.undo_stack.undo()
    assert not ctl.alignment.tiles[index].kept

    # a real click on the tile in the mosaic view itself toggles it the same way
    top, left, h, w = first.tiles[index].rect
    x, y = ctl.alignment.frame.to_source(left + w / 2, top + h / 2)
    assert ctl.overlay.tile_at(x, y) == index
    view = window.mosaic_view
    view.view_box.setRange(QtCore.QRectF(x - w, y - 2 * h, 2 * w, 4 * h), padding=0)
    qtbot.wait(50)
    point = view.graphics_view.mapFromScene(view.view_box.mapViewToScene(QtCore.QPointF(x, y)))
    qtbot.mouseClick(view.graphics_view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert ctl.alignment.tiles[index].kept and ctl.undo_stack.undoText() == f"Keep tile {index + 1}"


def test_threshold_edit_reruns_tile_decisions_and_undoes(qtbot, window):
    ctl = open_and_wait(qtbot, window, SAMPLE_MOSAIC)
    first = ctl.alignment
    voids = [i for i, t in enumerate(first.tiles) if t.reason == "void"]
    assert voids
    box = ctl.panel.thresholds.boxes["void_min_diameter_px"]
    box.setValue(900)
    # a second edit while the first runs: it waits, and only the latest state is shown
    ctl.panel.thresholds.boxes["focus_min_ratio"].setValue(0.05)
    assert ctl.working() and ctl._pending
    wait_for(qtbot, ctl, lambda a: a.thresholds.focus_min_ratio == 0.05)
    assert ctl.alignment.thresholds.void_min_diameter_px == 900
    assert all(ctl.alignment.tiles[i].reason != "void" for i in voids)
    assert ctl.undo_stack.count() == 2
    ctl.undo_stack.undo()
    ctl.undo_stack.undo()
    assert box.value() == first.thresholds.void_min_diameter_px
    assert [t.reason for t in ctl.alignment.tiles] == [t.reason for t in first.tiles]


def test_dragging_the_surface_line_moves_the_crop(qtbot, window):
    ctl = open_and_wait(qtbot, window, SAMPLE_MOSAIC)
    first = ctl.alignment
    roi = ctl.overlay.surface
    for handle in roi.getHandles():  # the whole surface 150 px further down
        end = roi.mapToParent(handle.pos())
        roi.movePoint(handle, QtCore.QPointF(end.x(), end.y() + 150))
    wait_for(qtbot, ctl, lambda a: a is not first and a.surface_y > first.surface_y + 149)
    moved = ctl.alignment
    assert moved.collector == first.collector  # the collector stays as it was
    # the crop now keeps clear of the lowered surface's envelope: fewer tiles fit
    assert 0 < len(moved.tiles) < len(first.tiles)
    u = np.array([[t.rect[1], t.rect[1] + t.rect[3] - 1] for t in moved.tiles]).ravel()
    envelope = moved.surface.envelope(moved.frame, u)
    assert all(t.rect[0] >= envelope.max() for t in moved.tiles)
    assert len(ctl.panel.preview.tile_items) == len(moved.tiles)
    assert ctl.undo_stack.undoText() == "Move surface"
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert ctl.alignment.rect == first.rect and not ctl.undo_stack.canUndo()


def test_no_collector_tells_the_user_and_lets_them_draw_it(qtbot, window, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "epoxy.tif"
    tifffile.imwrite(path, rng.integers(20, 40, (600, 2400), dtype=np.uint8))
    ctl = window.alignment
    window.open_path(path)
    qtbot.waitUntil(lambda: bool(window.dialogs.errors), timeout=TIMEOUT_MS)
    title, text = window.dialogs.errors[0]
    assert title == "No electrode found" and "by hand" in text and "epoxy.tif" in text
    assert ctl.draw_action.isChecked() and ctl.panel.notice_label.isVisible()
    assert not ctl.overlay.collector.isVisible()

    # two clicks on the mosaic draw the line (then alignment runs, and fails: no coating)
    view = window.mosaic_view
    for x, y in ((100, 400), (2200, 380)):
        scene = view.view_box.mapViewToScene(QtCore.QPointF(x, y))
        qtbot.mouseClick(
            view.graphics_view.viewport(),
            QtCore.Qt.MouseButton.LeftButton,
            pos=view.graphics_view.mapFromScene(scene),
        )
    assert not ctl.draw_action.isChecked()
    line = ctl.state.collector
    assert line is not None and ctl.undo_stack.undoText() == "Draw collector"
    assert line.x0 == 0 and line.x1 == 2399
    assert line.y_at(100) == pytest.approx(400, abs=3) and line.y_at(2200) == pytest.approx(
        380, abs=3
    )
    assert ctl.overlay.collector.isVisible()
    qtbot.waitUntil(lambda: len(window.dialogs.errors) == 2, timeout=TIMEOUT_MS)
    assert window.dialogs.errors[1][0] == "Alignment failed"
    assert ctl.overlay.collector.isVisible()  # the drawn line stays where it was put
    assert "No alignment from this line" in ctl.panel.notice_label.text()


def test_a_foil_without_coating_takes_the_same_path(qtbot, window, tmp_path):
    """A bright band but nothing like a coating (a plant section, a bare foil): the same
    'no electrode found' message and the offer to draw, not a dead end."""
    rng = np.random.default_rng(1)
    image = rng.integers(20, 40, (900, 2400), dtype=np.uint8)
    image[600:680] = 230  # a foil-like band, epoxy on both sides
    path = tmp_path / "bare_foil.tif"
    tifffile.imwrite(path, image)
    ctl = window.alignment
    window.open_path(path)
    qtbot.waitUntil(lambda: bool(window.dialogs.errors), timeout=TIMEOUT_MS)
    title, text = window.dialogs.errors[0]
    assert title == "No electrode found" and "by hand" in text and "coating" in text
    # the panel keeps saying it (the status bar may be overwritten, e.g. "Models loaded")
    assert ctl.draw_action.isChecked() and "No electrode found" in ctl.panel.notice_label.text()


def test_tooltip_words():
    from ratescope.core.align import Tile

    t = Tile((0, 0, 224, 672), auto_keep=False, reason="scratch")
    assert tile_tooltip(2, t).startswith("Tile 3: rejected: scratch")
    t.override = True
    assert tile_tooltip(2, t).startswith("Tile 3: kept by you (automatic: rejected: scratch)")
