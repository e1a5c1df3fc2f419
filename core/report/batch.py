"""Batch prediction over files: skip-and-continue, one :class:`SampleReport` per success.

The CLI (``python main.py predict FILE... --pdf --csv``) and the GUI's folder batch both
call :func:`predict_files`; a file that cannot be read, aligned or predicted is recorded
in :attr:`BatchResult.failures` and the rest are still processed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ratescope.core.errors import Cancelled, RateScopeError
from ratescope.core.progress import ProgressFn, report
from ratescope.core.report.record import SampleReport, sample_report


@dataclass
class BatchResult:
    """Reports of the files that worked and ``(file, message)`` of those that failed."""

    reports: list[SampleReport] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def predict_file(path: str | Path, ensemble, scene: int | None = None,
                 progress: ProgressFn | None = None) -> SampleReport:  # fmt: skip
    """Load, align automatically, predict one file and gather its :class:`SampleReport`.

    Raises
    ------
    RateScopeError
        When the file cannot be read or aligned, or keeps no tile.
    """
    from ratescope.core.io import load_mosaic
    from ratescope.core.predict import predict_mosaic

    report(progress, 0.0, f"reading {Path(path).name}")
    mosaic = load_mosaic(path, scene=scene)
    prediction, alignment = predict_mosaic(mosaic, ensemble, progress)
    return sample_report(mosaic, prediction, alignment, ensemble.cards)


def predict_files(files: Sequence[str | Path], ensemble, scene: int | None = None,
                  progress: ProgressFn | None = None,
                  on_result: Callable[[SampleReport], None] | None = None,
                  on_error: Callable[[str, str], None] | None = None) -> BatchResult:  # fmt: skip
    """Predict every file; failures are reported through ``on_error`` and skipped.

    Parameters
    ----------
    files : sequence of path
    ensemble : core.predict.Ensemble
    progress : ProgressFn, optional
        Overall fraction over all files; may raise :class:`Cancelled` (propagated).
    on_result, on_error : callable, optional
        Called after each file with its report, or with ``(file, message)``.
    """
    result = BatchResult()
    n = max(len(files), 1)
    for i, file in enumerate(files):
        name = Path(file).name

        def sub(frac: float, msg: str, i: int = i, name: str = name) -> None:
            report(progress, (i + frac) / n, f"{i + 1}/{len(files)} {name}: {msg}")

        try:
            rep = predict_file(file, ensemble, scene, sub)
        except Cancelled:
            raise
        except RateScopeError as e:
            message = str(e) if e.path else f"{file}: {e}"
        except Exception as e:  # a damaged file may break a reader in unforeseen ways
            message = f"{file}: unexpected error ({type(e).__name__}: {e})"
        else:
            result.reports.append(rep)
            if on_result is not None:
                on_result(rep)
            continue
        result.failures.append((str(file), message))
        if on_error is not None:
            on_error(str(file), message)
    report(progress, 1.0, f"{len(result.reports)} of {len(files)} files predicted")
    return result
