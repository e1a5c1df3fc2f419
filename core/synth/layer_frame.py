"""Foil-aligned coordinates of a synthetic cross-section and where the layer sits in the image.

Image convention used throughout ``core.synth``: pixel ``(row, col)`` has its centre at
``(x, y) = (col, row)``; x grows to the right, y grows downwards. A boundary that lies
between the centres of rows ``r - 1`` and ``r`` has ``y = r - 0.5``.

The layer frame has its origin on the collector's top edge at the image's centre column
``x = (width - 1) / 2``. ``u`` runs along the top edge (rightwards on screen), ``v`` is the
signed distance from it, positive into the coating (upwards on screen), both in pixels. A
tilt ``theta`` (degrees, positive when the foil rises to the right on screen) rotates the
frame; it is the angle the alignment reports
(:attr:`core.align.CollectorLine.angle_deg`): ``degrees(atan2(-(y1 - y0), x1 - x0))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LayerFrame:
    """Rigid map between image pixels and the foil-aligned frame ``(u, v)``.

    Attributes
    ----------
    tilt_deg : float
        Rotation of the layer, degrees, positive when the foil rises to the right.
    x_origin, y_origin : float
        Image position (px) of the frame origin: the collector top edge at the centre column.
    """

    tilt_deg: float
    x_origin: float
    y_origin: float

    @property
    def cos(self) -> float:
        return math.cos(math.radians(self.tilt_deg))

    @property
    def sin(self) -> float:
        return math.sin(math.radians(self.tilt_deg))

    def to_image(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(x, y)`` in px of layer points ``(u, v)`` in px (any matching shapes)."""
        c, s = self.cos, self.sin
        return self.x_origin + u * c - v * s, self.y_origin - u * s - v * c

    def uv_grids(self, row0: int, row1: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Layer coordinates of the pixel centres of rows ``row0:row1``, float32 (rows, width)."""
        c, s = np.float32(self.cos), np.float32(self.sin)
        dx = np.arange(width, dtype=np.float32) - np.float32(self.x_origin)
        dy = np.arange(row0, row1, dtype=np.float32) - np.float32(self.y_origin)
        u = dx[None, :] * c - dy[:, None] * s
        v = -dx[None, :] * s - dy[:, None] * c
        return u, v

    def line_y(self, x: np.ndarray | float, v: float = 0.0) -> np.ndarray | float:
        """y (px) of the line at constant height ``v`` (px) above the collector, at columns x."""
        return (
            self.y_origin
            - (np.asarray(x) - self.x_origin) * math.tan(math.radians(self.tilt_deg))
            - v / self.cos
        )

    def u_at_column(self, x: np.ndarray | float, v: float = 0.0) -> np.ndarray | float:
        """``u`` (px) where column x crosses the line at height ``v`` (px)."""
        return (np.asarray(x) - self.x_origin) / self.cos + v * math.tan(
            math.radians(self.tilt_deg)
        )


def fitting_tilt_limit_deg(height: int, width: int, band_px: float, margin_px: float) -> float:
    """Largest |tilt| (degrees) at which a band of vertical extent ``band_px`` stays in view."""
    room = height - 1 - 2 * margin_px - band_px
    return math.degrees(math.atan(max(room, 0.0) / max(width - 1, 1)))


def collector_y_range(
    height: int, width: int, tilt_deg: float, top_px: float, foil_px: float, margin_px: float
) -> tuple[float, float]:
    """Range of collector-top-edge heights (y at the centre column) that keep the layer in view.

    The layer reaches ``top_px`` above the collector top edge (coating) and ``foil_px``
    below it (foil), both perpendicular to the foil. Returns ``(lo, hi)``; ``lo > hi``
    when no position keeps the whole layer inside the image with ``margin_px`` to spare.
    """
    t = abs(math.tan(math.radians(tilt_deg)))
    c = math.cos(math.radians(tilt_deg))
    drift = (width - 1) / 2 * t
    lo = margin_px + drift + top_px / c
    hi = height - 1 - margin_px - drift - foil_px / c
    return lo, hi


def tile_layout(
    height: int, width: int, tile_shape: tuple[int, int], overlap: float
) -> list[dict[str, int]]:
    """Camera tiles of a MosaiX scan that cover the image, centred on it.

    Parameters
    ----------
    height, width : int
        Image size in px.
    tile_shape : (int, int)
        Camera frame (rows, cols) in px.
    overlap : float
        Fraction of a tile shared with its neighbour, in [0, 0.5).

    Returns
    -------
    list of dict
        One per tile in acquisition order (row-major), with ``row``, ``col`` and the
        rectangle ``x0, y0, x1, y1`` in image px (``x1``, ``y1`` exclusive). Rectangles
        of the outer tiles may extend past the image: the mosaic is cropped to it.
    """
    if not 0.0 <= overlap < 0.5:
        raise ValueError(f"tile_overlap must be in [0, 0.5), got {overlap}")
    th, tw = int(tile_shape[0]), int(tile_shape[1])

    def starts(size: int, tile: int) -> list[int]:
        step = max(1, round(tile * (1.0 - overlap)))
        n = max(1, math.ceil(max(size - tile, 0) / step) + 1)
        covered = (n - 1) * step + tile
        first = -((covered - size) // 2)
        return [first + i * step for i in range(n)]

    return [
        {"row": r, "col": c, "x0": x0, "y0": y0, "x1": x0 + tw, "y1": y0 + th}
        for r, y0 in enumerate(starts(height, th))
        for c, x0 in enumerate(starts(width, tw))
    ]
