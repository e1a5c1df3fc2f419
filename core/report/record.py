"""What a report says about one mosaic: :class:`SampleReport` and its parts.

A :class:`SampleReport` is plain data (numpy arrays, dataclasses) gathered from the
pipeline's results, so the PDF, the CSV and the session writer all read the same thing::

    report = sample_report(mosaic, prediction, alignment, ensemble.cards)
    write_pdf([report], "out.pdf"); write_csv([report], "out.csv")
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ratescope.core import __version__
from ratescope.core.constants import C_RATES

if TYPE_CHECKING:
    from ratescope.core.align import Alignment
    from ratescope.core.io.mosaic import Mosaic
    from ratescope.core.predict import Prediction

THUMB_WIDTH = 1200
"""Default width (px) of the mosaic thumbnail kept in a report."""


@dataclass
class Explanation:
    """One explanation map the user computed (Grad-RAM, guided backprop, occlusion).

    Attributes
    ----------
    method : str
        ``"gradram"``, ``"guided"`` or ``"occlusion"``.
    unit : str
        ``"specific"`` or ``"volumetric"``.
    c_rate : float
        The C-rate (model output) the map explains.
    tile : int
        Index of the tile in ``alignment.tiles``.
    map : ndarray, float32, 2-D
        Positive = the region raises the prediction; any grid covering the tile.
    tile_image : ndarray or None
        The tile (224 x 672 [x 3]) the map was computed on, for the overlay.
    """

    method: str
    unit: str
    c_rate: float
    tile: int
    map: np.ndarray
    tile_image: np.ndarray | None = None


@dataclass
class SampleReport:
    """Everything a report page shows about one mosaic.

    Attributes
    ----------
    path : Path
        The source file.
    prediction : Prediction
    alignment : Alignment or None
    thumbnail : ndarray or None
        (h, w, 3) uint8 picture of the mosaic; ``thumb_scale`` source px per pixel.
    measured : dict of str to ndarray
        Measured capacities per unit at ``C_RATES`` (NaN where not measured).
    explanation : Explanation or None
    cards : dict of str to dict
        Model card of each unit (first fold).
    file_size : int or None
        Bytes.
    format, shape, pixel_size_um, pixel_size_source
        From the :class:`~core.io.mosaic.Mosaic`.
    date : str
        When the prediction was made (``YYYY-MM-DD HH:MM``).
    version : str
        RateScope version.
    """

    path: Path
    prediction: Prediction
    alignment: Alignment | None = None
    thumbnail: np.ndarray | None = None
    thumb_scale: float = 1.0
    measured: dict[str, np.ndarray] = field(default_factory=dict)
    explanation: Explanation | None = None
    cards: dict[str, dict] = field(default_factory=dict)
    file_size: int | None = None
    format: str = ""
    shape: tuple[int, ...] = ()
    pixel_size_um: float | None = None
    pixel_size_source: str = ""
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M"))
    version: str = __version__

    @property
    def name(self) -> str:
        return Path(self.path).name


def make_thumbnail(mosaic: Mosaic, max_width: int = THUMB_WIDTH) -> tuple[np.ndarray, float]:
    """A small RGB uint8 picture of ``mosaic`` and its scale (source px per pixel).

    Block means of the coarsest suitable pyramid level, read in strips
    (:func:`core.io.overview.build_overview`), so huge mosaics are never read whole.
    """
    from ratescope.core.io.overview import build_overview

    image, scale = build_overview(mosaic, max_side=max_width)
    return to_rgb8(image), scale


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """A picture for display: (H, W, 3) uint8 (gray replicated; 16 bit scaled to its max)."""
    a = np.asarray(image)
    if a.ndim == 3:
        a = a[..., :3] if a.shape[2] >= 3 else np.repeat(a[..., :1], 3, axis=2)
    else:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        top = float(a.max()) if a.size else 1.0
        a = np.clip(a * (255.0 / (top if top > 1.0 else 1.0)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def sample_report(mosaic: Mosaic, prediction: Prediction, alignment: Alignment | None = None,
                  cards: dict[str, Any] | None = None, measured: dict | None = None,
                  explanation: Explanation | None = None,
                  thumb_width: int = THUMB_WIDTH) -> SampleReport:  # fmt: skip
    """Gather a :class:`SampleReport` from a mosaic and its results.

    ``cards`` may be ``ensemble.cards`` (lists per unit: the first fold's card is used)
    or a dict of one card per unit.
    """
    path = Path(mosaic.path)
    thumb, scale = make_thumbnail(mosaic, thumb_width)
    one = {u: (c[0] if isinstance(c, list | tuple) else c) for u, c in (cards or {}).items()}
    return SampleReport(
        path=path, prediction=prediction, alignment=alignment, thumbnail=thumb,
        thumb_scale=scale, measured=normalise_measured(measured), explanation=explanation,
        cards=one, file_size=path.stat().st_size if path.is_file() else None,
        format=mosaic.format, shape=tuple(mosaic.shape),
        pixel_size_um=mosaic.pixel_size_um, pixel_size_source=mosaic.pixel_size_source,
    )  # fmt: skip


def normalise_measured(measured: dict | None) -> dict[str, np.ndarray]:
    """Measured values as ``{unit: float array (5,) at C_RATES}`` (NaN = not measured).

    Accepts arrays/lists of five values, or ``{c_rate: value}`` dicts per unit.
    """
    out: dict[str, np.ndarray] = {}
    for unit, vals in (measured or {}).items():
        if vals is None:
            continue
        if isinstance(vals, dict):
            arr = np.array([float(vals.get(c, vals.get(str(c), np.nan))) for c in C_RATES])
        else:
            arr = np.asarray(vals, dtype=float).reshape(-1)
            if arr.size != len(C_RATES):
                raise ValueError(f"expected {len(C_RATES)} measured values for {unit}")
        if np.isfinite(arr).any():
            out[unit] = arr
    return out
