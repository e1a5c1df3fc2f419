"""Where the bundled resources (sample data, models) live."""

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SAMPLES = RESOURCES / "samples"
MODELS = RESOURCES / "models"
SAMPLE_MOSAIC = SAMPLES / "sample_mosaic.czi"
SAMPLE_VOLUME = SAMPLES / "sample_volume.h5"
