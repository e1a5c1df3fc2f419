"""The scene chooser: each scene of a multi-scene file with its size and a thumbnail."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

THUMB = 200
"""Thumbnail width on screen (px)."""


def thumbnail_image(data: np.ndarray) -> QtGui.QImage:
    """An 8-bit QImage of a thumbnail (16-bit data stretched between its 0.5/99.5 %)."""
    a = np.asarray(data)
    if a.dtype != np.uint8:
        lo, hi = np.percentile(a, [0.5, 99.5]) if a.size else (0, 1)
        a = np.clip((a.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255)
        a = a.astype(np.uint8)
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 3:
        return QtGui.QImage(a.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
    return QtGui.QImage(a.data, w, h, w, QtGui.QImage.Format.Format_Grayscale8).copy()


def describe(preview: dict) -> str:
    """``"Scene #1 — 6300 × 975 px (775 × 120 µm)"``."""
    w, h, um = preview["width"], preview["height"], preview.get("pixel_size_um")
    size = f" ({w * um:.0f} × {h * um:.0f} µm)" if um else ""
    return f"{preview['name']} — {w} × {h} px{size}"


class SceneDialog(QtWidgets.QDialog):
    """Pick one scene; double-click or OK. :attr:`chosen` is its index (None: cancelled)."""

    def __init__(self, parent, path, scenes: list[str], previews: list[dict] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Choose a scene")
        self.chosen: int | None = None
        self.list = QtWidgets.QListWidget()
        self.list.setIconSize(QtCore.QSize(THUMB, THUMB // 2))
        self.list.setSpacing(4)
        by_name = {p["name"]: p for p in previews or []}
        for name in scenes:
            item = QtWidgets.QListWidgetItem(describe(by_name[name]) if name in by_name else name)
            if name in by_name:
                image = thumbnail_image(by_name[name]["thumbnail"])
                item.setIcon(QtGui.QIcon(QtGui.QPixmap.fromImage(image)))
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        label = QtWidgets.QLabel(f"{path.name} holds {len(scenes)} scenes. Open which one?")
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Open
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(560, 380)

    def accept(self) -> None:
        self.chosen = self.list.currentRow() if self.list.currentRow() >= 0 else None
        super().accept()
