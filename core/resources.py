"""Where the bundled resources (sample data, models, label table, icons) live.

Found through :mod:`importlib.resources` as the package ``ratescope.resources``: the
folder ``resources/`` of a source checkout, ``ratescope/resources`` in an installed wheel
or under the PyInstaller bundle's ``_internal`` folder.
"""

from importlib.resources import files
from pathlib import Path

RESOURCES = Path(str(files("ratescope.resources")))
SAMPLES = RESOURCES / "samples"
MODELS = RESOURCES / "models"
SAMPLE_MOSAIC = SAMPLES / "sample_mosaic.czi"
SAMPLE_VOLUME = SAMPLES / "sample_volume.h5"
