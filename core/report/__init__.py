"""Reports of predictions: PDF pages, CSV rows, and batch prediction over files.

::

    from ratescope.core.report import sample_report, write_pdf, write_csv, predict_files
    result = predict_files(paths, ensemble)              # skip-and-continue
    write_pdf(result.reports, "out.pdf"); write_csv(result.reports, "out.csv")

Modules: ``record`` (:class:`SampleReport`, thumbnails), ``pdf``, ``csv``, ``card``
(model-card summary), ``draw`` (matplotlib axes), ``batch``.
"""

from ratescope.core.report.batch import BatchResult, predict_file, predict_files
from ratescope.core.report.card import SYNTHETIC_NOTE, card_lines
from ratescope.core.report.csv import COLUMNS, csv_rows, csv_text, write_csv
from ratescope.core.report.pdf import (
    sample_page,
    sample_pages,
    summary_page,
    summary_pages,
    write_pdf,
)
from ratescope.core.report.record import (
    Explanation,
    SampleReport,
    make_thumbnail,
    normalise_measured,
    sample_report,
)

__all__ = [
    "COLUMNS", "SYNTHETIC_NOTE", "BatchResult", "Explanation", "SampleReport", "card_lines",
    "csv_rows", "csv_text", "make_thumbnail", "normalise_measured", "predict_file",
    "predict_files", "sample_page", "sample_pages", "sample_report", "summary_page",
    "summary_pages", "write_csv", "write_pdf",
]  # fmt: skip
