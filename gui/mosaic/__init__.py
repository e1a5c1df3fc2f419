"""The mosaic viewer: tiled pyramid display, scale bar, cursor readout."""
