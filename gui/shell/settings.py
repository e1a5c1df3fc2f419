"""What the window remembers between runs, kept in one :class:`QSettings`.

Tests pass their own ``QSettings(path, IniFormat)`` so the user's settings are never
touched; the app uses the default one (organisation and name set in :mod:`gui.app`).
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore

MAX_RECENT_FILES = 10
MAX_REMEMBERED_PIXEL_SIZES = 100


class AppSettings:
    """Typed access to recent files, last directory, pixel sizes and window layout.

    Parameters
    ----------
    settings : QSettings, optional
        Where to keep the values; the application's default store when omitted.
    """

    def __init__(self, settings: QtCore.QSettings | None = None):
        self.store = settings if settings is not None else QtCore.QSettings()

    def _json(self, key: str, default):
        try:
            return json.loads(str(self.store.value(key, "")))
        except (TypeError, ValueError):
            return default

    @property
    def recent_files(self) -> list[str]:
        """Most recently opened first; files that no longer exist are kept (shown greyed)."""
        value = self._json("recent_files", [])
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_recent_file(self, path: str | Path) -> list[str]:
        """Move ``path`` to the top of the recent files and return the new list."""
        path = str(Path(path).resolve())
        files = [path] + [f for f in self.recent_files if f != path]
        self.store.setValue("recent_files", json.dumps(files[:MAX_RECENT_FILES]))
        return files[:MAX_RECENT_FILES]

    def clear_recent_files(self) -> None:
        self.store.setValue("recent_files", "[]")

    @property
    def last_directory(self) -> str:
        """The folder of the last file opened, or the home folder."""
        value = str(self.store.value("last_directory", "") or "")
        return value if value and Path(value).is_dir() else str(Path.home())

    @last_directory.setter
    def last_directory(self, folder: str | Path) -> None:
        self.store.setValue("last_directory", str(folder))

    def pixel_size_for(self, path: str | Path) -> float | None:
        """The pixel size (µm) the user gave for this file before, if any."""
        value = self._json("pixel_sizes", {}).get(str(Path(path).resolve()))
        return float(value) if value else None

    def remember_pixel_size(self, path: str | Path, pixel_size_um: float) -> None:
        """Remember the user's answer so the file is not asked about again."""
        sizes = self._json("pixel_sizes", {})
        sizes.pop(str(Path(path).resolve()), None)
        sizes[str(Path(path).resolve())] = float(pixel_size_um)
        kept = dict(list(sizes.items())[-MAX_REMEMBERED_PIXEL_SIZES:])
        self.store.setValue("pixel_sizes", json.dumps(kept))
        self.store.setValue("last_pixel_size_um", float(pixel_size_um))

    @property
    def last_pixel_size_um(self) -> float | None:
        value = self.store.value("last_pixel_size_um", None)
        return float(value) if value not in (None, "") else None

    def window_state(self) -> tuple[QtCore.QByteArray | None, QtCore.QByteArray | None]:
        """Saved (geometry, dock/toolbar state), each None when never saved."""
        return self.store.value("window/geometry", None), self.store.value("window/state", None)

    def save_window_state(self, geometry: QtCore.QByteArray, state: QtCore.QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)
        self.store.sync()
