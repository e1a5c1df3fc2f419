"""File ▸ Export: the report (PDF), the numbers (CSV), any view as PNG, and folder batches.

Everything is written off the GUI thread through the window's runner, atomically. A
folder dropped on the window (or File ▸ Batch Predict Folder…) predicts every micrograph
in it with automatic alignment and writes the PDF/CSV the user picks
(:func:`core.report.predict_files`: bad files are reported and skipped).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

PDF_FILTER = "PDF report (*.pdf)"
CSV_FILTER = "CSV (*.csv)"
PNG_FILTER = "PNG image (*.png)"


def render_widget(widget: QtWidgets.QWidget, scale: int) -> QtGui.QImage:
    """Render ``widget`` at ``scale`` × its size (vector items are redrawn, not upscaled)."""
    size = widget.size() * scale
    image = QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtCore.Qt.GlobalColor.white)
    painter = QtGui.QPainter(image)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.scale(scale, scale)
        widget.render(painter, QtCore.QPoint(0, 0))
    finally:
        painter.end()
    return image


class ExportController(QtCore.QObject):
    """The File ▸ Export actions and the dropped-folder batch."""

    def __init__(self, window, session):
        super().__init__(window)
        self.window, self.session = window, session
        self._waiting_batch = None  # (folder, pdf, csv) asked for before the models loaded
        self._waiting_connected = False
        menu, before = window.file_menu, window.file_menu_end
        self.export_menu = QtWidgets.QMenu("&Export", window)
        self.pdf_action = self.export_menu.addAction("&Report (PDF)…", self.export_pdf)
        self.csv_action = self.export_menu.addAction("&Numbers (CSV)…", self.export_csv)
        self.png_action = self.export_menu.addAction("&View as PNG…", self.export_png)
        menu.insertMenu(before, self.export_menu)
        self.batch_action = QtGui.QAction("&Batch Predict Folder…", window)
        self.batch_action.triggered.connect(self.batch_dialog)
        menu.insertAction(before, self.batch_action)
        menu.insertSeparator(before)
        window.installEventFilter(self)

    @property
    def ask(self):
        return self.session.ask

    def _start_dir(self, name: str) -> str:
        return str(Path(self.window.settings.last_directory) / name)

    # ------------------------------------------------------------ current mosaic
    def _current(self):
        """What a report of the current mosaic needs, or None (with a message)."""
        w = self.window
        pred = getattr(w, "prediction", None)
        if w.current_mosaic is None or pred is None or pred.prediction is None:
            w.dialogs.show_error(w, "Nothing to export", "Open a mosaic and predict it first.")
            return None
        explain = getattr(w, "explanation", None)
        current = getattr(explain, "current", None)
        cards = getattr(pred.ensemble, "cards", {}) if pred.ensemble is not None else {}
        return (w.current_mosaic, pred.prediction, pred.alignment or w.alignment.alignment,
                cards, pred.measured.values, current)  # fmt: skip

    def export_pdf(self, path: str | None = None):
        return self._export(path, "pdf", PDF_FILTER)

    def export_csv(self, path: str | None = None):
        return self._export(path, "csv", CSV_FILTER)

    def _export(self, path, kind: str, filters: str):
        from ratescope.gui.session.jobs import report_job

        state = self._current()
        if state is None:
            return None
        stem = Path(state[0].path).stem
        path = path or self.ask.save_path(self.window, f"Export {kind.upper()}",
                                          self._start_dir(f"{stem}.{kind}"), filters)  # fmt: skip
        if not path:
            return None
        return self.window.runner.start(
            report_job, *state, **{kind: path}, message=f"Writing {Path(path).name}…",
            on_done=lambda _out: self._done(f"Exported {Path(path).name}", path),
            on_error=lambda e: self._error(f"Could not write the {kind.upper()}", e),
        )  # fmt: skip

    def views(self) -> dict[str, QtWidgets.QWidget]:
        """The views a PNG can show: the window, the current workspace, visible panels."""
        w = self.window
        out = {"Current workspace": w.stack.currentWidget(), "Whole window": w}
        for dock in w.findChildren(QtWidgets.QDockWidget):
            if dock.isVisible():
                out[f"Panel: {dock.windowTitle()}"] = dock.widget()
        return out

    def export_png(self, path: str | None = None, view: str = "Current workspace",
                   scale: int | None = None):  # fmt: skip
        from ratescope.gui.session.jobs import write_png

        scale = scale or self.ask.scale(self.window)
        if not scale:
            return None
        path = path or self.ask.save_path(self.window, "Export view as PNG",
                                          self._start_dir("view.png"), PNG_FILTER)  # fmt: skip
        if not path:
            return None
        image = render_widget(self.views()[view], scale)  # painting belongs to the GUI thread
        return self.window.runner.start(
            write_png, image, path, message=f"Writing {Path(path).name}…",
            on_done=lambda _p: self._done(f"Exported {Path(path).name}", path),
            on_error=lambda e: self._error("Could not write the PNG", e),
        )  # fmt: skip

    # --------------------------------------------------------------------- batch
    def batch_dialog(self) -> None:
        folder = self.ask.folder(self.window, "Batch predict folder",
                                 self.window.settings.last_directory)  # fmt: skip
        if folder:
            self.batch(folder)

    def batch(self, folder: str | Path, pdf: str | None = None, csv: str | None = None):
        """Predict every micrograph in ``folder`` off-thread; write the PDF/CSV picked."""
        from ratescope.gui.session.jobs import batch_job, folder_files

        w, folder = self.window, Path(folder)
        files = folder_files(folder)
        ensemble = getattr(getattr(w, "prediction", None), "ensemble", None)
        if not files:
            w.dialogs.show_error(w, "Nothing to predict", f"{folder.name} holds no micrographs.")
            return None
        if ensemble is None:
            pred = getattr(w, "prediction", None)
            if pred is None or pred.load_error is not None:
                reason = pred.load_error if pred is not None else "no prediction panel"
                w.dialogs.show_error(w, "No prediction model", f"No models: {reason}")
                return None
            # still loading (a folder dropped in the first seconds): start once they are
            w.statusBar().showMessage(f"Batch of {folder.name} starts when the models are "
                                      "loaded…", 15000)  # fmt: skip
            self._waiting_batch = (folder, pdf, csv)
            if not self._waiting_connected:
                pred.models_loaded.connect(self._models_ready)
                self._waiting_connected = True
            return None
        if pdf is None and csv is None:
            pdf = self.ask.save_path(
                w,
                f"Batch report for {len(files)} files",
                str(folder / f"{folder.name}_report.pdf"),
                PDF_FILTER,
            )
            csv = self.ask.save_path(w, "Batch numbers", str(folder / f"{folder.name}.csv"),
                                     CSV_FILTER)  # fmt: skip
            if not pdf and not csv:
                return None
        return w.runner.start(
            batch_job, files, ensemble, pdf, csv, message=f"Batch: {len(files)} files…",
            on_done=self._batch_done,
            on_error=lambda e: self._error("Batch prediction failed", e),
        )  # fmt: skip

    def _models_ready(self, _ensemble) -> None:
        waiting, self._waiting_batch = self._waiting_batch, None
        if waiting is not None:
            self.batch(*waiting)

    def _batch_done(self, result) -> None:
        n_ok, n_bad = len(result.reports), len(result.failures)
        text = f"Batch: {n_ok} of {n_ok + n_bad} files predicted"
        self._done(text)
        if n_bad:
            lines = "\n".join(msg for _f, msg in result.failures[:20])
            self.window.dialogs.show_error(
                self.window,
                f"{n_bad} file(s) skipped",
                f"{text}; these could not be used:\n{lines}",
            )

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """A folder dropped on the window starts a batch (files still open as before)."""
        if obj is self.window and event.type() == QtCore.QEvent.Type.Drop:
            urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
            folders = [p for p in urls if Path(p).is_dir()]
            if folders:
                event.acceptProposedAction()
                self.batch(folders[0])
                return True
        return False

    def _done(self, text: str, path: str | Path | None = None) -> None:
        if path is not None:  # the next dialog starts where this file went
            self.window.settings.last_directory = str(Path(path).resolve().parent)
        self.window.statusBar().showMessage(text, 10000)

    def _error(self, title: str, error: BaseException) -> None:
        self.window.dialogs.show_error(self.window, title, str(error))
