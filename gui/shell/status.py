"""Status-bar read-outs: cursor position in µm and px, and the pixel size."""

from __future__ import annotations

import math

from PySide6 import QtWidgets

SOURCE_NOTES = {"metadata": "from file", "default": "assumed", "user": "entered"}


class CursorLabel(QtWidgets.QLabel):
    """``x 812.45 µm  y 96.10 µm  (px 6605, 781)`` while the cursor is over the image."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.pixel_size_um = 1.0
        self.setMinimumWidth(300)

    def set_pixel_size(self, pixel_size_um: float) -> None:
        self.pixel_size_um = float(pixel_size_um)

    def show_position(self, x_px: float, y_px: float, inside: bool) -> None:
        """Show a level-0 pixel position, or nothing when outside the image."""
        if not inside:
            self.clear()
            return
        x_um, y_um = x_px * self.pixel_size_um, y_px * self.pixel_size_um
        column, row = math.floor(x_px + 1e-6), math.floor(y_px + 1e-6)  # float noise
        self.setText(f"x {x_um:.2f} µm  y {y_um:.2f} µm  (px {column}, {row})")


class PixelSizeLabel(QtWidgets.QLabel):
    """``Pixel 0.123 µm (assumed)``; says where the value came from."""

    def show_pixel_size(self, pixel_size_um: float, source: str) -> None:
        note = SOURCE_NOTES.get(source, source)
        self.setText(f"Pixel {pixel_size_um:.4g} µm ({note})")
        self.setToolTip(
            "Pixel size read from the file's metadata"
            if source == "metadata"
            else "The file holds no pixel size; this value was "
            + ("assumed (the paper's 0.123 µm)" if source == "default" else "entered by you")
        )
