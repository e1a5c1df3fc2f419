"""Background work and pure helpers of the explanation panel (no Qt).

:func:`cut_tiles` and :func:`run_explanation` run in a worker thread through the window's
runner (torch is imported there, never when the GUI starts); the rest are small numpy
helpers the panel uses on the GUI thread: :func:`to_tile_grid` (nearest-neighbour
upsampling of an occlusion grid), :func:`symmetric_levels`, :func:`overlay_rgba` (the map
as a coloured, |value|-weighted transparent image) and :func:`blend` (map over tile, for
PNG export).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ratescope.core.errors import RateScopeError

METHOD_NAMES = {"gradram": "Grad-RAM", "guided": "Guided backprop", "occlusion": "Occlusion"}
"""What the method selector shows for each :data:`core.explain.METHODS` name."""


@dataclass
class TileSet:
    """The kept tiles of one accepted alignment, cut in the models' input convention.

    Attributes
    ----------
    key : tuple
        :func:`gui.predict.jobs.tile_key` of the source and alignment they were cut from.
    tiles : ndarray, uint8, shape (N, 224, 672, 3)
    numbers : list of int
        Index of each kept tile in ``alignment.tiles`` (what the user sees as "tile n+1").
    """

    key: tuple
    tiles: np.ndarray
    numbers: list[int]


@dataclass
class ExplainResult:
    """The maps of one method for one tile and one unit, every fold and C-rate.

    Attributes
    ----------
    method, unit : str
    tile_index : int
        Index among the kept tiles.
    tile_number : int
        Index in ``alignment.tiles`` (as :class:`core.report.Explanation` wants it).
    c_rates : list of float
        The outputs' C-rates (model-card order).
    per_fold : ndarray, float32, shape (n_folds, n_outputs, h, w)
        Positive = the region raises the predicted capacity.
    tile : ndarray, uint8, shape (224, 672, 3)
        The tile the maps were computed on.
    key : tuple
        The :class:`TileSet` key (which alignment).
    """

    method: str
    unit: str
    tile_index: int
    tile_number: int
    c_rates: list[float]
    per_fold: np.ndarray
    tile: np.ndarray
    key: tuple = ()

    def map(self, c_index: int, fold: int | None) -> np.ndarray:
        """The 2-D map of output ``c_index``: mean of the folds (None) or fold ``fold``."""
        if fold is None:
            return self.per_fold[:, c_index].mean(axis=0, dtype=np.float64).astype(np.float32)
        return self.per_fold[fold, c_index]


def cut_tiles(source, alignment, key: tuple) -> TileSet:
    """Cut the kept tiles of ``alignment`` from ``source.image`` (as the prediction does)."""
    if not alignment.kept:
        raise RateScopeError("the accepted alignment keeps no tile: keep at least one")
    tiles = source.tiles(alignment)
    numbers = [i for i, t in enumerate(alignment.tiles) if t.kept]
    return TileSet(key, tiles, numbers)


def run_explanation(tiles: TileSet, tile_index: int, models, unit: str, method: str,
                    c_rates, progress=None) -> ExplainResult:  # fmt: skip
    """Maps of ``method`` for kept tile ``tile_index`` and every fold model of ``unit``.

    Parameters
    ----------
    tiles : TileSet
    tile_index : int
    models : list of RateCNN
        The unit's fold models (the prediction's loaded ensemble).
    unit, method : str
    c_rates : sequence of float
    progress : callable, optional
        ``progress(fraction, message)``; may raise :class:`core.errors.Cancelled`.
    """
    from ratescope.core.explain import ensemble_maps

    tile = tiles.tiles[tile_index]
    maps = ensemble_maps(models, tile, method, progress=progress)
    return ExplainResult(method, unit, tile_index, tiles.numbers[tile_index],
                         [float(c) for c in c_rates], maps.per_fold, tile, tiles.key)  # fmt: skip


def to_tile_grid(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Stretch a coarse map (an occlusion grid) to ``shape`` without smoothing.

    Every cell becomes a block of equal pixels (nearest neighbour); a map already of
    ``shape`` is returned as it is. Cells of a grid that does not divide the tile evenly
    get the nearest cell's value.
    """
    m = np.asarray(m, np.float32)
    h, w = shape
    if m.shape == (h, w):
        return m
    rows = np.minimum((np.arange(h) * m.shape[0]) // h, m.shape[0] - 1)
    cols = np.minimum((np.arange(w) * m.shape[1]) // w, m.shape[1] - 1)
    return m[rows[:, None], cols[None, :]]


def symmetric_levels(m: np.ndarray) -> tuple[float, float]:
    """``(-v, v)`` with ``v = max |m|`` (1 for an all-zero map): zero sits mid-colormap."""
    finite = np.abs(np.asarray(m, np.float64))
    finite = finite[np.isfinite(finite)]
    v = float(finite.max()) if finite.size else 0.0
    v = v if v > 0 else 1.0
    return -v, v


ALPHA_GAIN = 2.0
"""Per-pixel alpha of the map is ``min(1, ALPHA_GAIN * |m| / max|m|)``: cells with
(almost) no effect stay transparent, so the white middle of the colormap never veils the
tile; the opacity slider scales the whole."""


def overlay_rgba(m: np.ndarray, lut: np.ndarray, levels: tuple[float, float] | None = None,
                 shape: tuple[int, int] | None = None) -> np.ndarray:  # fmt: skip
    """The map as an RGBA uint8 image (H, W, 4): ``lut`` colours, alpha grows with |m|.

    Parameters
    ----------
    m : ndarray
        The map; stretched to ``shape`` with :func:`to_tile_grid` when given.
    lut : ndarray, uint8, shape (n, 3 or 4)
        Colour table from blue (lowest level) to red (highest).
    levels : (float, float), optional
        Default :func:`symmetric_levels` (zero maps to the middle of ``lut``).
    """
    full = to_tile_grid(m, shape) if shape is not None else np.asarray(m, np.float32)
    lo, hi = levels if levels is not None else symmetric_levels(full)
    full = np.nan_to_num(full)
    idx = np.clip(((full - lo) / (hi - lo) * (len(lut) - 1)).round(), 0, len(lut) - 1)
    out = np.empty(full.shape + (4,), np.uint8)
    out[..., :3] = np.asarray(lut)[idx.astype(np.intp), :3]
    scale = max(abs(lo), abs(hi))
    alpha = np.clip(ALPHA_GAIN * np.abs(full) / scale, 0.0, 1.0)
    out[..., 3] = (alpha * 255).round().astype(np.uint8)
    return out


def blend(tile: np.ndarray, m: np.ndarray, lut: np.ndarray, opacity: float) -> np.ndarray:
    """The overlay as shown: :func:`overlay_rgba` over the tile, uint8 RGB (H, W, 3).

    Parameters
    ----------
    tile : ndarray, (H, W) or (H, W, 3)
        uint8 tile.
    m : ndarray
        The map (any grid; stretched with :func:`to_tile_grid`).
    lut : ndarray, uint8, shape (n, 3 or 4)
        Colour table from blue (lowest) to red (highest).
    opacity : float
        0 (tile only) .. 1 (strongest cells fully coloured).
    """
    t = np.asarray(tile)
    rgb = np.repeat(t[..., None], 3, axis=2) if t.ndim == 2 else t[..., :3]
    rgba = overlay_rgba(m, lut, shape=rgb.shape[:2]).astype(np.float32)
    a = rgba[..., 3:] / 255.0 * float(np.clip(opacity, 0.0, 1.0))
    out = (1.0 - a) * rgb.astype(np.float32) + a * rgba[..., :3]
    return np.clip(out.round(), 0, 255).astype(np.uint8)
