"""Background work of the prediction panel (no Qt): whether a folder holds models, and
the prediction with its physics cross-check.

:func:`run_prediction` runs in a worker thread through the window's runner; torch is
imported there, never when the GUI starts.
"""

from __future__ import annotations

from pathlib import Path

from ratescope.core.errors import RateScopeError


def has_models(models_dir: str | Path) -> bool:
    """Whether ``models_dir`` holds any fold model file (a cheap check, no torch)."""
    return Path(models_dir).is_dir() and any(Path(models_dir).glob("*_fold*.safetensors"))


def tile_key(source, alignment) -> tuple:
    """Identifies the tiles an alignment cuts from a source (same key: same prediction)."""
    return id(source), alignment.angle_deg, tuple(tuple(t.rect) for t in alignment.kept)


def run_prediction(source, alignment, ensemble, progress=None, on_partial=None):
    """Cut the kept tiles of ``alignment``, measure the coating (the physics
    cross-check, :mod:`core.measure`) and predict the tiles progressively.

    ``source`` is anything with an ``image`` array (the alignment view's
    :class:`gui.align.jobs.Source`, read here in the worker if it was not read yet).

    The image is converted to the models' input convention first
    (:func:`core.predict.to_model_image`), exactly as :func:`core.predict.predict_image`
    does, so the GUI and the CLI give the same numbers.

    Returns
    -------
    core.predict.Prediction

    Raises
    ------
    RateScopeError
        No kept tile, or the alignment belongs to another image.
    """
    from ratescope.core.align.band import working_frame
    from ratescope.core.measure import measure_physics
    from ratescope.core.predict import predict_tiles

    if not alignment.kept:
        raise RateScopeError("the accepted alignment keeps no tile: keep at least one")
    tiles = source.tiles(alignment)
    working = source.working
    physics = measure_physics(working.image, alignment, working_frame(working, alignment))
    prediction = predict_tiles(tiles, ensemble, progress, on_partial)
    prediction.physics = physics
    return prediction
