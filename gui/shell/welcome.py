"""The first page: open the sample, open a file, recent files, and a drop hint."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets


class WelcomeView(QtWidgets.QWidget):
    """Start page of the window.

    Signals
    -------
    open_sample_requested()
    open_file_requested()
    recent_file_chosen(str)
        A recent file was activated (double-click or Enter).
    """

    open_sample_requested = QtCore.Signal()
    open_file_requested = QtCore.Signal()
    recent_file_chosen = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        title = QtWidgets.QLabel("RateScope")
        title_font = title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 2.2)
        title_font.setBold(True)
        title.setFont(title_font)
        subtitle = QtWidgets.QLabel(
            "Rate capability of Li-ion electrodes from cross-section micrographs"
        )
        self.open_sample_button = QtWidgets.QPushButton("Open sample")
        self.open_sample_button.setToolTip("Open the bundled synthetic MosaiX mosaic")
        self.open_file_button = QtWidgets.QPushButton("Open file…")
        for button in (self.open_sample_button, self.open_file_button):
            button.setMinimumHeight(36)
            button.setMinimumWidth(150)
        self.open_sample_button.clicked.connect(self.open_sample_requested)
        self.open_file_button.clicked.connect(self.open_file_requested)

        self.recent_list = QtWidgets.QListWidget()
        self.recent_list.setMaximumHeight(220)
        self.recent_list.itemActivated.connect(
            lambda item: self.recent_file_chosen.emit(item.data(QtCore.Qt.ItemDataRole.UserRole))
        )
        self.drop_hint = QtWidgets.QLabel(
            "…or drop a mosaic anywhere on this window\n"
            "ZEN .czi · AxioVision .zvi · TIFF / BigTIFF / OME-TIFF · PNG · JPEG"
        )
        self.drop_hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setStyleSheet(
            "QLabel { border: 2px dashed palette(mid); border-radius: 8px; padding: 18px;"
            " color: palette(placeholder-text); }"
        )

        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.open_sample_button)
        buttons.addWidget(self.open_file_button)
        buttons.addStretch()
        column = QtWidgets.QVBoxLayout()
        column.addStretch(2)
        for label in (title, subtitle):
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            column.addWidget(label)
        column.addSpacing(24)
        column.addLayout(buttons)
        column.addSpacing(24)
        column.addWidget(QtWidgets.QLabel("Recent files"))
        column.addWidget(self.recent_list)
        column.addSpacing(12)
        column.addWidget(self.drop_hint)
        column.addStretch(3)
        content = QtWidgets.QWidget()
        content.setLayout(column)
        content.setMaximumWidth(680)
        outer = QtWidgets.QHBoxLayout(self)
        outer.addWidget(content)

    def set_recent_files(self, paths: list[str]) -> None:
        """List ``paths``; missing files are shown greyed with a tooltip saying so."""
        self.recent_list.clear()
        for path in paths:
            item = QtWidgets.QListWidgetItem(f"{Path(path).name}    —    {Path(path).parent}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, path)
            if Path(path).exists():
                item.setToolTip(path)
            else:
                item.setForeground(QtGui.QBrush(QtGui.QColor("gray")))
                item.setToolTip(f"{path} (no longer exists)")
            self.recent_list.addItem(item)
        if not paths:
            placeholder = QtWidgets.QListWidgetItem("No recent files yet")
            placeholder.setFlags(QtCore.Qt.ItemFlag.NoItemFlags)
            self.recent_list.addItem(placeholder)

    def set_sample_available(self, available: bool) -> None:
        """Disable "Open sample" when the bundled sample is missing."""
        self.open_sample_button.setEnabled(available)
        if not available:
            self.open_sample_button.setToolTip("The bundled sample is not installed")
