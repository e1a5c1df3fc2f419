"""RateScope's desktop interface: PySide6 + pyqtgraph views that call :mod:`core`.

Nothing here imports torch at module level; the window must appear before any model
loads. Entry point: :func:`gui.app.run_gui`.
"""
