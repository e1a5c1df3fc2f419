"""The explanation overlay as a PNG file (the explanation panel's Export button).

:func:`ask_png_path` asks where (a save dialog starting in the last directory with a
name saying method, tile and C-rate); :func:`write_overlay_png` writes the overlay as
shown — tile resolution, the panel's colour table and opacity — atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtGui, QtWidgets

from ratescope.core.errors import RateScopeError

PNG_FILTER = "PNG images (*.png);;All files (*)"


def overlay_png_name(method: str, tile_number: int, c_rate: float) -> str:
    """Default file name, e.g. ``explain_occlusion_tile3_2C.png`` (tiles count from 1)."""
    return f"explain_{method}_tile{tile_number + 1}_{c_rate:g}C.png"


def ask_png_path(parent: QtWidgets.QWidget, start: Path) -> Path | None:
    """Ask for the PNG to write, starting at ``start``; None when the user cancels."""
    path, _ = QtWidgets.QFileDialog.getSaveFileName(
        parent, "Export overlay as PNG", str(start), PNG_FILTER
    )
    return Path(path) if path else None


def write_overlay_png(
    path: str | Path, tile: np.ndarray, values: np.ndarray, lut: np.ndarray, opacity: float
) -> Path:
    """Blend ``values`` (any grid) over ``tile`` with ``lut`` and ``opacity`` and write it.

    Written atomically (a temporary file, then a rename). Raises ``OSError`` or
    :class:`~core.errors.RateScopeError` (naming the file) when it cannot be written.
    """
    from ratescope.core.atomic import atomic_path
    from ratescope.gui.explain.jobs import blend

    path = Path(path)
    rgb = np.ascontiguousarray(blend(tile, values, lut, opacity))
    h, w = rgb.shape[:2]
    image = QtGui.QImage(rgb.tobytes(), w, h, 3 * w, QtGui.QImage.Format.Format_RGB888)
    with atomic_path(path) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise RateScopeError("Qt could not write the PNG", path)
    return path
