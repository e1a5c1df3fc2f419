"""Ground truth of a synthetic mosaic and how it is measured from the phase map.

Conventions (all positions in image pixels of the returned image; pixel ``(row, col)``
has its centre at ``(x, y) = (col, row)``; boundaries between pixels lie on half-integers):

- ``collector``: the top edge of the Al foil as the two points ``[[0, y0], [W - 1, y1]]``
  of the exact geometric line (sub-pixel). Pixels whose centre lies below this line (and
  above the foil's bottom edge, ``collector_bottom``) are :attr:`Phase.FOIL`.
- ``tilt_deg`` = ``degrees(atan2(-(y1 - y0), x1 - x0))`` of ``collector`` (the alignment's
  angle): positive when the foil rises to the right on screen.
- ``surface_profile_y[x]``: in column x, the y of the boundary between the mounting epoxy
  and the coating, i.e. (row of the topmost coating pixel) - 0.5, before artefacts. The
  coating is every pixel labelled particle, crack, binder or pore; its top follows the
  tops of the surface particles. ``None`` where the surface is not in view.
- ``surface_y``: mean of ``surface_profile_y`` over the columns where it is in view.
- ``surface``: the line parallel to ``collector`` at the mean vertical distance between
  the collector and ``surface_profile_y``, as ``[[0, y0], [W - 1, y1]]``.
- ``coating_thickness_px`` (and ``_um``): the electrode model's thickness at the requested
  porosity and constant loading (:func:`core.electrode.coating_thickness_um`), the mean
  height of the coating perpendicular to the foil. ``coating_thickness_measured_px``: the
  same measured in the phase map (mean vertical distance x cos(tilt)).
- ``porosity_measured``: pore pixels / coating pixels in the phase map before artefacts;
  ``particle_share_measured`` counts particle and crack pixels, ``binder_share_measured``
  carbon-binder pixels. The requested porosity, the NCM volume fraction and the
  carbon-binder volume fraction of :mod:`core.electrode` are their targets.
- ``tiles``: camera frames ``{row, col, x0, y0, x1, y1, gain}`` (x1, y1 exclusive; may
  reach past the image, which is cropped from the stitched scan).
- ``artefacts``: ``{type, label, bbox: [x0, y0, x1, y1] (x1, y1 exclusive), ...}``, bbox of
  the drawn artefact in the image; scratches carry their ``polygon`` (4 corners, px).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ratescope.core.synth.layer_frame import LayerFrame
from ratescope.core.synth.phases import COATING_PHASES, Phase


@dataclass
class MosaicTruth:
    """Everything known about a synthetic mosaic; see the module docstring for conventions."""

    seed: int
    params: dict[str, Any]
    pixel_size_um: float
    height: int
    width: int
    porosity_requested: float
    porosity_measured: float
    particle_share_target: float
    particle_share_measured: float
    binder_share_target: float
    binder_share_measured: float
    particle_radius_median_um: float
    particle_radius_spread: float
    sphere_radii_um: list[float]
    section_radii_um: list[float]
    radius_scale: float
    coating_thickness_um: float
    coating_thickness_px: float
    coating_thickness_measured_px: float
    foil_thickness_um: float
    foil_thickness_px: float
    tilt_deg: float
    collector: list[list[float]]
    collector_bottom: list[list[float]]
    surface_y: float
    surface: list[list[float]]
    surface_profile_y: list[float | None]
    tiles: list[dict[str, Any]]
    artefacts: list[dict[str, Any]] = field(default_factory=list)
    phase_labels: dict[str, int] = field(default_factory=lambda: {p.name: int(p) for p in Phase})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (floats, ints, strings, lists, None)."""
        return _plain(asdict(self))


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def line_points(frame: LayerFrame, width: int, v: float) -> list[list[float]]:
    """End points ``[[0, y0], [W - 1, y1]]`` of the line at height ``v`` px above the collector."""
    xs = np.array([0.0, width - 1.0])
    ys = frame.line_y(xs, v)
    return [[0.0, float(ys[0])], [float(width - 1), float(ys[1])]]


def phase_shares(phase: np.ndarray) -> dict[str, float]:
    """Area fractions of pore, particle (+ crack) and binder inside the coating of ``phase``."""
    counts = np.bincount(phase.ravel(), minlength=len(Phase))
    coating = sum(int(counts[p]) for p in COATING_PHASES)
    if coating == 0:
        return {"pore": math.nan, "particle": math.nan, "binder": math.nan}
    return {
        "pore": counts[Phase.PORE] / coating,
        "particle": (counts[Phase.PARTICLE] + counts[Phase.CRACK]) / coating,
        "binder": counts[Phase.BINDER] / coating,
    }


def surface_profile(phase: np.ndarray) -> np.ndarray:
    """Per column, (row of the topmost coating pixel) - 0.5; NaN where not in view (float64)."""
    coating = np.isin(phase, COATING_PHASES)
    top = np.argmax(coating, axis=0).astype(np.float64)
    top[~coating.any(axis=0) | (top == 0)] = np.nan
    return top - 0.5


def surface_line(frame: LayerFrame, profile: np.ndarray) -> tuple[float, list[list[float]], float]:
    """``surface_y``, the surface line end points and the mean perpendicular thickness (px)."""
    width = len(profile)
    offset = frame.line_y(np.arange(width, dtype=np.float64)) - profile
    if np.all(np.isnan(offset)):
        return math.nan, [[0.0, math.nan], [width - 1.0, math.nan]], math.nan
    vertical = float(np.nanmean(offset))
    height = vertical * frame.cos
    return float(np.nanmean(profile)), line_points(frame, width, height), height
