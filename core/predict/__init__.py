"""Rate-capability prediction: tiles (or a whole mosaic) -> curves, spread, OOD flag.

Pipeline::

    ensemble = load_ensemble()                         # resources/models, both units
    pred, alignment = predict_image(image, ensemble)   # convert -> align -> tiles -> CNNs
    pred, alignment = predict_mosaic(mosaic, ensemble) # the same for a mosaic of any size
    pred.units["specific"].mean                        # (5,) Ah/kg at core.constants.C_RATES
    pred.physics                                       # the label table at the measured coating

or, on tiles the user has confirmed, ``predict_tiles(tiles, ensemble, progress, on_partial)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ratescope.core.errors import RateScopeError
from ratescope.core.model_input import prepare_tiles, to_model_image
from ratescope.core.predict.ensemble import Ensemble, load_ensemble
from ratescope.core.predict.predict import Prediction, UnitPrediction, predict_tiles
from ratescope.core.progress import ProgressFn, report

__all__ = [
    "Ensemble",
    "Prediction",
    "UnitPrediction",
    "load_ensemble",
    "predict_image",
    "predict_mosaic",
    "predict_tiles",
    "prepare_tiles",
    "to_model_image",
]


def predict_image(
    image: np.ndarray,
    ensemble: Ensemble,
    progress: ProgressFn | None = None,
    on_partial: Callable[[Prediction], None] | None = None,
):
    """Convert, align automatically, cut the kept tiles and predict.

    Returns
    -------
    prediction : Prediction
    alignment : core.align.Alignment

    Raises
    ------
    RateScopeError
        When the alignment finds no collector/coating or keeps no tile.
    """
    from ratescope.core.align import align, extract_tiles
    from ratescope.core.measure import measure_physics

    report(progress, 0.0, "aligning")
    rgb = to_model_image(image)
    alignment = align(rgb)
    tiles = extract_tiles(rgb, alignment)
    if len(tiles) == 0:
        raise RateScopeError("the alignment kept no 224 x 672 tile to predict from")

    physics = measure_physics(rgb, alignment)

    def sub(frac: float, msg: str) -> None:
        report(progress, 0.2 + 0.8 * frac, msg)

    prediction = predict_tiles(tiles, ensemble, sub, on_partial)
    prediction.physics = physics
    return prediction, alignment


def predict_mosaic(
    mosaic,
    ensemble: Ensemble,
    progress: ProgressFn | None = None,
    on_partial: Callable[[Prediction], None] | None = None,
):
    """:func:`predict_image` for a :class:`core.io.Mosaic` of any size, within the memory
    budget: large mosaics are aligned on an overview plus a full-resolution band
    (:func:`core.align.band.align_mosaic`); the alignment is in mosaic pixels.

    Raises
    ------
    RateScopeError
        When the mosaic cannot be read, no collector/coating is found or no tile is kept.
    """
    from ratescope.core.align.band import align_mosaic, extract_working_tiles, working_frame
    from ratescope.core.measure import measure_physics

    def step(frac: float, msg: str) -> None:
        report(progress, 0.2 * frac, msg)

    alignment, working = align_mosaic(mosaic, progress=step)
    tiles = extract_working_tiles(working, alignment)
    if len(tiles) == 0:
        raise RateScopeError("the alignment kept no 224 x 672 tile to predict from", mosaic.path)
    physics = measure_physics(working.image, alignment, working_frame(working, alignment))
    del working

    def sub(frac: float, msg: str) -> None:
        report(progress, 0.2 + 0.8 * frac, msg)

    prediction = predict_tiles(tiles, ensemble, sub, on_partial)
    prediction.physics = physics
    return prediction, alignment
