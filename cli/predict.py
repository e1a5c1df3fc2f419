"""``python main.py predict FILE... [--json out.json] [--pdf out.pdf] [--csv out.csv]``.

Rate-capability curves per file.

For each file: load -> automatic alignment -> kept tiles -> the embedded ensemble (both
units x all folds). Prints per file both curves (mean ± spread per C-rate), the number of
tiles and the out-of-distribution flag. ``--json`` writes a list of records, one per file
and unit, with the stable keys ``file``, ``unit``, ``c_rate``, ``mean``, ``std``,
``tiles``, ``ood`` (plus ``unit_symbol``, ``ood_score``, ``ood_threshold``, ``folds``,
and ``threads``: the compute threads the file was predicted with, see ``--threads``).
``--pdf`` writes the report (one page per file, plus a summary page for several) and
``--csv`` one row per file x unit x C-rate (:mod:`core.report`). A progress bar runs on
stderr. Concurrent runs share the cores (``--threads N`` to choose, :mod:`core.threads`);
the share is re-evaluated before each file. A file that cannot be read or aligned is
reported on stderr and skipped; the exit code is 1 when any file failed, else 0.
"""

from __future__ import annotations

import argparse
import sys

from ratescope.cli.common import fail, save_json, thread_budget
from ratescope.core.errors import RateScopeError

HELP = "predict the rate-capability curves (Ah/kg, Ah/L) of electrode mosaics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="mosaics (CZI, ZVI, TIFF, PNG, ...)")
    p.add_argument("--json", help="write the records as JSON here ('-' for stdout)")
    p.add_argument("--pdf", help="write the PDF report here")
    p.add_argument("--csv", help="write the numbers as CSV here (one row per file, unit, C-rate)")
    p.add_argument(
        "--models", help="folder of the fold models (default: the active model, main.py models)"
    )
    p.add_argument("--scene", type=int, help="scene of multi-scene CZI files")


def records(
    file: str, prediction, threads: int | None = None, cards: dict | None = None
) -> list[dict]:
    """The JSON records (one per unit) of one file's prediction (``threads``: the compute
    threads it ran with, recorded when known; ``cards``: the models' cards, for the
    physics cross-check's CNN uncertainty)."""
    out = []
    checks = {}
    if prediction.physics is not None:
        from ratescope.core.measure import cross_check

        checks = {c.unit: c for c in cross_check(prediction, prediction.physics, cards)}
    for unit, up in prediction.units.items():
        d = up.to_dict()
        out.append({"file": file, "unit": unit, "unit_symbol": d["unit_symbol"],
                    "c_rate": d["c_rate"], "mean": d["mean"], "std": d["std"],
                    "tiles": d["tiles"], "ood": d["ood"], "ood_score": d["ood_score"],
                    "ood_threshold": d["ood_threshold"], "folds": d["folds_done"],
                    "ood_reasons": d["ood_reasons"], "model": prediction.model,
                    "status": ("out of distribution: not a result" if d["ood"]
                               else "prediction")})  # fmt: skip
        if prediction.physics is not None:
            out[-1]["physics"] = physics_record(prediction, unit, checks.get(unit))
        if threads is not None:
            out[-1]["threads"] = threads
    return out


def physics_record(prediction, unit: str, check=None) -> dict:
    """The row's ``physics`` entry: the label table's curve at the measured coating
    (``mean``, ``sd``: 5 values), the microstructure, and the cross-check verdict
    (``check``, a :class:`core.measure.CrossCheck` of this unit, when there is one)."""
    d = prediction.physics.unit_dict(unit)
    if check is not None:
        d["agrees_with_cnn"] = check.agree
        d["cross_check"] = check.message
    return d


def _text(file: str, prediction, cards: dict | None = None) -> str:
    lines = [file]
    for up in prediction.units.values():
        d = up.to_dict()
        flag = "  OUT OF DISTRIBUTION, not a result: " + "; ".join(d["ood_reasons"]) \
            if d["ood"] else ""  # fmt: skip
        models = f"{d['folds_done']} model" + ("" if d["folds_done"] == 1 else "s")
        lines.append(f"  {d['unit']} ({d['unit_symbol']}), {d['tiles']} tiles, {models}{flag}")
        phys = prediction.physics.curves.get(up.unit) if prediction.physics else None
        for i, (c, m, s) in enumerate(zip(d["c_rate"], d["mean"], d["std"], strict=True)):
            extra = f"   physics {phys.mean[i]:8.2f} ± {phys.sd[i]:.2f}" if phys else ""
            lines.append(f"    {c:>4g} C  {m:9.2f} ± {s:.2f}{extra}")
    if prediction.physics is not None:
        from ratescope.core.measure.physics import cross_check, summary_lines

        checks = cross_check(prediction, prediction.physics, cards)
        lines += [f"  {line}" for line in summary_lines(prediction.physics, checks)]
    return "\n".join(lines)


class ProgressBar:
    """A one-line progress bar on stderr (plain lines per file when stderr is no terminal)."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""

    def __call__(self, fraction: float, message: str) -> None:
        if not self.tty:
            head = message.split(":")[0]  # "2/5 name"
            if head != self.last and fraction < 1.0:
                self.last = head
                print(f"[{head}]", file=self.stream, flush=True)
            return
        n = int(round(fraction * self.width))
        line = f"[{'#' * n}{'.' * (self.width - n)}] {fraction:4.0%} {message}"[:100]
        print(f"\r{line:<100}", end="", file=self.stream, flush=True)

    def clear(self) -> None:
        if self.tty:
            print(f"\r{'':<100}\r", end="", file=self.stream, flush=True)


def run(args: argparse.Namespace) -> int:
    from ratescope.core.models.registry import Registry
    from ratescope.core.predict import load_ensemble
    from ratescope.core.report import predict_files, write_csv, write_pdf

    try:
        ensemble = load_ensemble(args.models or Registry().active().path)
    except RateScopeError as e:
        return fail(e)
    out: list[dict] = []
    to_stdout = args.json == "-"
    bar = ProgressBar()
    budget = thread_budget(args)
    budget.refresh()  # runs started meanwhile have registered by now

    def done(rep) -> None:
        bar.clear()
        out.extend(records(str(rep.path), rep.prediction, budget.threads, rep.cards))
        text = _text(str(rep.path), rep.prediction, rep.cards)
        print(text, file=sys.stderr if to_stdout else sys.stdout)
        budget.refresh()  # for the next file: others may have started or ended

    def failed_file(file: str, message: str) -> None:
        bar.clear()
        fail(message)
        budget.refresh()

    result = predict_files(args.files, ensemble, args.scene, bar, done, failed_file)
    bar.clear()
    failed = len(result.failures)
    written_ok = True
    if args.json and not out and not to_stdout:
        print(f"no JSON written: no file could be predicted ({args.json} left as it was)",
              file=sys.stderr)  # fmt: skip
    elif args.json:
        written_ok = save_json(out, args.json) == 0
    if (args.pdf or args.csv) and not result.reports:
        print("no report written: no file could be predicted", file=sys.stderr)
    elif args.pdf or args.csv:
        for path, writer in ((args.pdf, write_pdf), (args.csv, write_csv)):
            if path:
                try:
                    writer(result.reports, path)
                except RateScopeError as e:  # names the user's file, not a temporary one
                    fail(e)
                    written_ok = False
    if failed:
        print(f"{failed} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failed or not written_ok else 0
