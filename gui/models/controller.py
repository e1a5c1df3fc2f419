"""Models menu: Train on your electrodes… (the wizard) and Manage models… (the manager).

``install_models(window)`` returns the :class:`ModelsController` the window keeps as
``window.models``. It makes predictions use the registry's active model from the start
(:meth:`use_active_at_start`), and activating a model (manager or wizard) reloads the
prediction ensemble (:meth:`gui.predict.controller.PredictionController.load_models`).
File questions go through :attr:`ask` (:class:`gui.session.dialogs.SessionDialogs`;
tests replace it), errors through ``window.dialogs``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from ratescope.gui.models import jobs

PACKAGE_FILTER = "RateScope model packages (*.rsmodel);;All files (*)"


class ModelsController(QtCore.QObject):
    """Activates, lists, imports, exports and deletes models; opens the training wizard.

    Signals
    -------
    active_changed(object)
        The newly active :class:`core.models.registry.ModelEntry`.
    """

    active_changed = QtCore.Signal(object)

    def __init__(self, window, root: str | Path | None = None):
        super().__init__(window)
        from ratescope.gui.session.dialogs import SessionDialogs

        self.window = window
        self.root = Path(root) if root is not None else None
        self.ask = SessionDialogs()
        self.manager = None
        self.wizard = None
        menu = window.models_menu
        bar = window.menuBar()  # after the menus installed before it (Alignment), before Help
        bar.removeAction(menu.menuAction())
        bar.insertAction(window.help_menu.menuAction(), menu.menuAction())
        self.train_action = menu.addAction("&Train on Your Electrodes…")
        self.train_action.triggered.connect(self.open_wizard)
        self.manage_action = menu.addAction("&Manage Models…")
        self.manage_action.triggered.connect(self.open_manager)
        window.first_painted.connect(self.use_active_at_start)

    # ----------------------------------------------------------------- active model
    def use_active_at_start(self) -> None:
        """Before the first load: predictions use the registry's active user model, unless
        the window was given another folder than the embedded one."""
        from ratescope.core.resources import MODELS

        prediction = self.window.prediction
        if Path(prediction.models_dir) != Path(MODELS):
            return
        try:
            folder = jobs.active_user_folder(self.root)
        except Exception:  # noqa: BLE001 - a broken registry must not stop the window
            folder = None
        if folder is not None:
            prediction.models_dir = folder

    def activate(self, model_id: str) -> None:
        """Make ``model_id`` active and reload the prediction ensemble from it."""
        try:
            entry = jobs.registry(self.root).activate(model_id)
        except Exception as exc:  # noqa: BLE001 - RateScopeError, OSError
            self._error("Could not activate the model", exc)
            return
        self.window.prediction.load_models(entry.path)
        self.window.statusBar().showMessage(f"Predictions now use: {entry.name}", 10000)
        self.active_changed.emit(entry)
        self.refresh(select=entry.id)

    def activate_entry(self, entry) -> None:
        """The wizard's "use this model now"."""
        self.activate(entry.id)

    # ---------------------------------------------------------------------- manager
    def open_manager(self):
        """Show the model manager (modeless; one at a time); returned."""
        from ratescope.gui.models.manager import ModelManager

        if self.manager is None:
            m = self.manager = ModelManager(self.window)
            m.activate_requested.connect(self.activate)
            m.export_requested.connect(self.export)
            m.import_requested.connect(self.import_package)
            m.delete_requested.connect(self.delete)
            m.destroyed.connect(self._manager_closed)
            m.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        self.manager.show()
        self.manager.raise_()
        self.refresh()
        return self.manager

    def _manager_closed(self, *_args) -> None:
        self.manager = None

    def refresh(self, select: str | None = None, status: str | None = None) -> None:
        """Re-list the models in the manager (off the GUI thread)."""
        if self.manager is None:
            return
        self._start(jobs.list_job, self.root, message="Listing models…",
                    on_done=lambda r: self._listed(r, select, status))  # fmt: skip

    def _listed(self, result, select, status) -> None:
        if self.manager is not None:
            entries, active = result
            self.manager.show_entries(entries, active, select)
            if status is not None:
                self.manager.show_status(status)

    def export(self, model_id: str) -> None:
        """Export… : ask for a file, write the package."""
        from ratescope.core.models.registry import PACKAGE_SUFFIX

        start = str(Path(self.window.settings.last_directory) / f"{model_id}{PACKAGE_SUFFIX}")
        path = self.ask.save_path(self._parent(), "Export model", start, PACKAGE_FILTER)
        if not path:
            return
        if not Path(path).suffix:
            path += PACKAGE_SUFFIX
        self._start(jobs.export_job, self.root, model_id, path,
                    message=f"Exporting {model_id}…",
                    on_done=lambda p: self._status(f"Exported to {Path(p).name}"),
                    error_title="Export failed")  # fmt: skip

    def import_package(self) -> None:
        """Import… : ask for a package, validate it, add it (refusals shown)."""
        path = self.ask.open_path(
            self._parent(), "Import model", self.window.settings.last_directory, PACKAGE_FILTER
        )
        if not path:
            return
        self._start(jobs.import_job, self.root, path, message=f"Importing {Path(path).name}…",
                    on_done=self._imported, error_title="Model refused")  # fmt: skip

    def _imported(self, entry) -> None:
        self.refresh(select=entry.id, status=f"Imported {entry.name}")

    def delete(self, model_id: str) -> None:
        """Delete… : ask, then remove the user model (the active one falls back to the
        embedded model, which is then loaded)."""
        entry = next((e for e in self.manager.entries if e.id == model_id), None) if (
            self.manager is not None) else None  # fmt: skip
        name = entry.name if entry is not None else model_id
        if not self.ask.yes_no(self._parent(), "Delete model",
                               f"Delete the model “{name}” and its files?"):  # fmt: skip
            return
        was_active = self.manager is not None and self.manager.active_id == model_id
        self._start(jobs.delete_job, self.root, model_id, message=f"Deleting {name}…",
                    on_done=lambda _r: self._deleted(name, was_active),
                    error_title="Could not delete the model")  # fmt: skip

    def _deleted(self, name: str, was_active: bool) -> None:
        if was_active:
            from ratescope.core.resources import MODELS

            self.window.prediction.load_models(MODELS)
        self.refresh(status=f"Deleted {name}")

    # ---------------------------------------------------------------------- wizard
    def open_wizard(self):
        """Show the training wizard (modeless; one at a time); returned."""
        from ratescope.gui.train.wizard import TrainWizard

        if self.wizard is None:
            w = self.wizard = TrainWizard(self.window, ask=self.ask,
                                          on_activate=self.activate_entry)  # fmt: skip
            w.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
            w.destroyed.connect(self._wizard_closed)
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def _wizard_closed(self, *_args) -> None:
        self.wizard = None

    # -------------------------------------------------------------------- helpers
    def _parent(self):
        return self.manager if self.manager is not None else self.window

    def _start(self, func, *args, message: str, on_done, error_title: str = "Models") -> None:

        def done(result) -> None:
            on_done(result)

        def failed(exc: BaseException) -> None:
            self._error(error_title, exc)

        self.window.runner.start(func, *args, message=message, on_done=done, on_error=failed)

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)
        if self.manager is not None:
            self.manager.show_status(text)

    def _error(self, title: str, exc: BaseException) -> None:
        if self.manager is not None:
            self.manager.show_status(f"{title}: {exc}", error=True)
        self.window.dialogs.show_error(self._parent(), title, str(exc))


def install_models(window, root: str | Path | None = None) -> ModelsController:
    """Add the Models menu's entries to ``window`` (it has ``models_menu``)."""
    return ModelsController(window, root)
