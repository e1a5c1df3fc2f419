"""Work done off the GUI thread for sessions and exports (no widgets here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ratescope.core.report import predict_files, sample_report, write_csv, write_pdf
from ratescope.core.session import Session, check_source, load_session, save_session, source_facts

IMAGE_SUFFIXES = {".czi", ".zvi", ".tif", ".tiff", ".btf", ".png", ".jpg", ".jpeg"}


def save_job(session: Session, path: str | Path, progress=None) -> Path:
    """Hash the source (SHA-256) and write the session atomically."""
    if session.source_path is not None and Path(session.source_path).is_file():
        session = replace(session, **source_facts(session.source_path))
    return save_session(session, path)


def autosave_job(session: Session, path: str | Path, discarded, progress=None) -> Path:
    """Write the window's recovery copy; remove it again when the window was discarded
    (``discarded``, a :class:`threading.Event`, set at its close) while this ran."""
    path = save_job(session, path)
    if discarded.is_set():
        Path(path).unlink(missing_ok=True)
    return path


def open_job(path: str | Path, located: str | Path | None = None, progress=None):
    """Read a session and check its source file: ``(session, SourceCheck)``."""
    session = load_session(path)
    return session, check_source(session, located)


def report_job(mosaic, prediction, alignment, cards, measured, explanation, pdf=None,
               csv=None, progress=None) -> list[Path]:  # fmt: skip
    """Gather the current mosaic's report and write the PDF and/or CSV."""
    rep = sample_report(mosaic, prediction, alignment, cards, measured, explanation)
    out = []
    if pdf:
        out.append(write_pdf([rep], pdf, progress=progress))
    if csv:
        out.append(write_csv([rep], csv))
    return out


def folder_files(folder: str | Path) -> list[Path]:
    """The micrographs directly inside ``folder`` (by suffix), sorted by name."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)  # fmt: skip


def batch_job(files, ensemble, pdf=None, csv=None, progress=None):
    """Predict ``files`` (skip-and-continue) and write the batch PDF/CSV of the good ones."""
    result = predict_files(files, ensemble, progress=progress)
    if result.reports and pdf:
        write_pdf(result.reports, pdf)
    if result.reports and csv:
        write_csv(result.reports, csv)
    return result


def write_png(image, path: str | Path) -> Path:
    """Save a QImage as PNG atomically (QImage may be used off the GUI thread)."""
    from ratescope.core.atomic import atomic_path
    from ratescope.core.errors import RateScopeError

    with atomic_path(path) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise RateScopeError("could not write the PNG", path)
    return Path(path)
