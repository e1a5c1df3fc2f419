"""Data files RateScope reads at run time: samples, models, the label table and icons.

A package only so that :mod:`importlib.resources` finds the folder in the wheel, the
editable install and the PyInstaller bundle alike (see :mod:`ratescope.core.resources`).
"""
