"""``python main.py explain FILE --tile N --method M --out maps.h5``: explanation maps.

Load -> automatic alignment -> kept tile ``N`` (0-based, in the order of the kept tiles)
-> the maps of every fold model of one unit for all C-rates -> one HDF5 file, written
atomically. Layout::

    /tile                         (224, 672, 3) uint8, the tile the maps belong to
    /<method>/mean                float32 (5, 224, 672) [gradram, guided]
                                  or (5, 32, 96) [occlusion]: the fold average
    /<method>/per_fold            float32 (n_folds, 5, ...): each fold model's map
    root attrs                    file, tile_index, tile_rect (top, left, height, width
                                  in the straightened image, px), unit, unit_symbol,
                                  c_rates, sign_convention, model_card (JSON summary),
                                  alignment (JSON), software
    /<method> attrs               c_rates, unit, sign_convention, description, and for
                                  occlusion patch, stride, fill (model-input units);
                                  guided precision (of its backward pass: bf16 or fp32)

Sign convention: positive = the region raises the predicted capacity (red), negative =
it lowers it (blue).
"""

from __future__ import annotations

import argparse
import json

from ratescope.cli.common import fail, thread_budget
from ratescope.core.errors import RateScopeError

HELP = "Grad-RAM, guided backpropagation or occlusion maps of one tile, all C-rates, as HDF5"

_DESCRIPTION = {
    "gradram": "Grad-RAM: signed Grad-CAM on the last convolution, bilinear to the tile",
    "guided": "guided backpropagation, colour channels summed, per unit pixel value",
    "occlusion": "prediction(original) - prediction(occluded); window (i, j) covers rows "
    "i*stride .. i*stride+patch-1 and columns j*stride .. j*stride+patch-1",
}
_CARD_KEYS = ("model", "unit", "unit_symbol", "c_rates", "date", "command", "software")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="mosaic (CZI, ZVI, TIFF, PNG, JPEG)")
    p.add_argument(
        "--tile", type=int, default=0, help="index of the kept tile (0-based, default 0)"
    )
    p.add_argument(
        "--method",
        choices=("gradram", "guided", "occlusion", "all"),
        default="occlusion",
        help="which map (default occlusion)",
    )
    p.add_argument("--out", required=True, help="HDF5 file to write")
    p.add_argument(
        "--unit",
        choices=("specific", "volumetric"),
        default="specific",
        help="model unit: specific (Ah/kg, default) or volumetric (Ah/L)",
    )
    p.add_argument("--models", help="folder of the fold models (default: embedded)")
    p.add_argument("--patch", type=int, default=7, help="occlusion window, px (default 7)")
    p.add_argument("--stride", type=int, default=7, help="occlusion stride, px (default 7)")
    p.add_argument("--scene", type=int, help="scene of a multi-scene CZI")


def card_summary(card: dict, n_folds: int) -> dict:
    """The model-card entries stored with the maps."""
    out = {k: card[k] for k in _CARD_KEYS if k in card}
    data = card.get("data", {})
    out["data_source"] = data.get("source") if isinstance(data, dict) else data
    out["folds"] = n_folds
    return out


def run(args: argparse.Namespace) -> int:
    import h5py
    import numpy as np

    from ratescope.core import __version__
    from ratescope.core.align.band import align_mosaic, extract_working_tiles
    from ratescope.core.atomic import atomic_path
    from ratescope.core.constants import C_RATES, UNITS
    from ratescope.core.explain import SIGN_CONVENTION, ensemble_maps
    from ratescope.core.io import load_mosaic
    from ratescope.core.models.precision import inference_precision
    from ratescope.core.predict import load_ensemble
    from ratescope.core.resources import MODELS

    methods = ("gradram", "guided", "occlusion") if args.method == "all" else (args.method,)
    try:
        ens = load_ensemble(args.models or MODELS, units=(args.unit,))
        models = ens.models[args.unit]
        mosaic = load_mosaic(args.file, scene=args.scene)
        alignment, working = align_mosaic(mosaic)
        kept = alignment.kept
        if not 0 <= args.tile < len(kept):
            raise RateScopeError(
                f"tile {args.tile} does not exist: the alignment kept "
                f"{len(kept)} tiles (0 .. {len(kept) - 1})",
                args.file,
            )
        tiles = extract_working_tiles(working, alignment)
        tile = tiles[args.tile]
        results = {}
        for m in methods:
            thread_budget(args).refresh()  # other runs may have started or ended
            opts = {"patch": args.patch, "stride": args.stride} if m == "occlusion" else {}
            results[m] = ensemble_maps(models, tile, m, **opts)
    except (RateScopeError, ValueError) as e:
        return fail(e)
    c_rates = list(ens.card(args.unit).get("c_rates", C_RATES))
    with atomic_path(args.out) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("tile", data=tile, compression="gzip")
        f.attrs.update({
            "file": str(args.file), "tile_index": args.tile,
            "tile_rect": np.asarray(kept[args.tile].rect, dtype=np.int64),
            "unit": args.unit, "unit_symbol": UNITS[args.unit], "c_rates": c_rates,
            "sign_convention": SIGN_CONVENTION,
            "model_card": json.dumps(card_summary(ens.card(args.unit), len(models))),
            "alignment": alignment.to_json(), "software": f"RateScope {__version__}",
        })  # fmt: skip
        for m, res in results.items():
            g = f.create_group(m)
            g.create_dataset("mean", data=res.mean, compression="gzip")
            g.create_dataset("per_fold", data=res.per_fold, compression="gzip")
            g.attrs.update(
                {
                    "c_rates": c_rates,
                    "unit": args.unit,
                    "sign_convention": SIGN_CONVENTION,
                    "description": _DESCRIPTION[m],
                }
            )
            if m == "occlusion":
                g.attrs["patch"], g.attrs["stride"] = args.patch, args.stride
                g.attrs["fill"] = models[0].input_mean.numpy().astype(np.float64)
            if m == "guided":
                g.attrs["precision"] = inference_precision()
    print(
        f"wrote {', '.join(methods)} maps of tile {args.tile} ({len(models)} "
        f"{args.unit} models) to {args.out}"
    )
    return 0
