"""Speed of prediction with the embedded ensemble on the bundled 975 x 6300 sample.

Rows: alignment + tile cut of the sample, the full ensemble (both units x all folds) over
all its kept tiles (target <= 5 s), and the first partial answer (fold 0 of each unit)
that a view can show early. One tile through one model is :mod:`core.bench.model`'s row.
"""

from __future__ import annotations

import os
import time

import torch

from ratescope.core.bench import Row, median_time
from ratescope.core.resources import MODELS, SAMPLE_MOSAIC


def run() -> list[Row]:
    from ratescope.core.align import align, extract_tiles
    from ratescope.core.errors import RateScopeError
    from ratescope.core.io import load_mosaic
    from ratescope.core.predict import load_ensemble, predict_tiles, to_model_image

    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        try:
            ens = load_ensemble(MODELS)
        except RateScopeError as exc:
            return [Row("predict", "ensemble over the sample", float("nan"), "s", "<= 5 s",
                        f"not measured: {exc}")]  # fmt: skip
        image = to_model_image(load_mosaic(SAMPLE_MOSAIC).image)
        t0 = time.perf_counter()
        tiles = extract_tiles(image, align(image))
        t_align = time.perf_counter() - t0
        n_models = sum(len(v) for v in ens.models.values())
        t_all = median_time(lambda: predict_tiles(tiles, ens), repeats=3, warmup=1)
        first: list[float] = []

        def until_first() -> None:
            t = time.perf_counter()
            predict_tiles(tiles, ens, on_partial=lambda p: first.append(time.perf_counter() - t))

        until_first()
        note = f"{len(tiles)} tiles x {n_models} models, {torch.get_num_threads()} threads"
        full = 2 * 5  # both units x 5 folds, the shipped configuration
        rows = [
            Row("predict", "align + cut the sample (975 x 6300)", t_align, "s", "", ""),
            Row("predict", "ensemble over the sample's tiles", t_all, "s",
                "<= 5 s" if n_models == full else "", note),
            Row("predict", "first partial answer (fold 0 of each unit)", first[0], "s", "",
                note),
        ]  # fmt: skip
        if n_models != full:
            rows.append(Row("predict", f"ensemble over the sample, scaled to {full} models",
                            t_all * full / n_models, "s", "<= 5 s",
                            f"measured with {n_models} models x {full}/{n_models} (the "
                            "embedded ensemble is not complete yet)"))  # fmt: skip
        return rows
    finally:
        torch.set_num_threads(threads)
