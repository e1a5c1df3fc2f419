"""Fixed facts of the method (paper 1): tile size, C-rates, units."""

DEFAULT_PIXEL_SIZE_UM = 0.123
"""The paper's pixel size (50x objective), used when a file carries none."""

TILE_HEIGHT = 224
TILE_WIDTH = 672
"""Model input: centre crop of each slice, height x width in pixels."""

C_RATES = (0.2, 1.0, 2.0, 3.0, 5.0)
UNITS = {"specific": "Ah/kg", "volumetric": "Ah/L"}
