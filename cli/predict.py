"""``python main.py predict FILE... [--json out.json]``: rate-capability curves per file.

For each file: load -> automatic alignment -> kept tiles -> the embedded ensemble (both
units x all folds). Prints per file both curves (mean ± spread per C-rate), the number of
tiles and the out-of-distribution flag. ``--json`` writes a list of records, one per file
and unit, with the stable keys ``file``, ``unit``, ``c_rate``, ``mean``, ``std``,
``tiles``, ``ood`` (plus ``unit_symbol``, ``ood_score``, ``ood_threshold``, ``folds``).
A file that cannot be read or aligned is reported on stderr and skipped; the exit code
is 1 when any file failed, else 0.
"""

from __future__ import annotations

import argparse
import sys

from cli.common import fail, write_json
from core.errors import RateScopeError

HELP = "predict the rate-capability curves (Ah/kg, Ah/L) of electrode mosaics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="mosaics (CZI, ZVI, TIFF, PNG, ...)")
    p.add_argument("--json", help="write the records as JSON here ('-' for stdout)")
    p.add_argument("--models", help="folder of the fold models (default: embedded)")
    p.add_argument("--scene", type=int, help="scene of multi-scene CZI files")


def records(file: str, prediction) -> list[dict]:
    """The JSON records (one per unit) of one file's prediction."""
    out = []
    for unit, up in prediction.units.items():
        d = up.to_dict()
        out.append({"file": file, "unit": unit, "unit_symbol": d["unit_symbol"],
                    "c_rate": d["c_rate"], "mean": d["mean"], "std": d["std"],
                    "tiles": d["tiles"], "ood": d["ood"], "ood_score": d["ood_score"],
                    "ood_threshold": d["ood_threshold"], "folds": d["folds_done"]})  # fmt: skip
    return out


def _text(file: str, prediction) -> str:
    lines = [file]
    for up in prediction.units.values():
        d = up.to_dict()
        flag = "  OUT OF DISTRIBUTION: treat with caution" if d["ood"] else ""
        lines.append(f"  {d['unit']} ({d['unit_symbol']}), {d['tiles']} tiles, "
                     f"{d['folds_done']} models{flag}")  # fmt: skip
        for c, m, s in zip(d["c_rate"], d["mean"], d["std"], strict=True):
            lines.append(f"    {c:>4g} C  {m:9.2f} ± {s:.2f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from core.io import load_mosaic
    from core.predict import load_ensemble, predict_image
    from core.resources import MODELS

    try:
        ensemble = load_ensemble(args.models or MODELS)
    except RateScopeError as e:
        return fail(e)
    out: list[dict] = []
    failed = 0
    to_stdout = args.json == "-"
    for file in args.files:
        try:
            mosaic = load_mosaic(file, scene=args.scene)
            prediction, _ = predict_image(mosaic.image, ensemble)
        except RateScopeError as e:
            failed += 1
            fail(e if getattr(e, "path", None) else f"{file}: {e}")
            continue
        out.extend(records(str(file), prediction))
        print(_text(str(file), prediction), file=sys.stderr if to_stdout else sys.stdout)
    if args.json:
        write_json(out, args.json)
    if failed:
        print(f"{failed} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failed else 0
