"""The colours of the alignment overlay, shared by the GUI, the PDF and the CLI preview.

Each has the name its legend uses, so a legend can never describe another colour than
the one drawn.
"""

from __future__ import annotations

from typing import NamedTuple


class Colour(NamedTuple):
    """A named overlay colour."""

    name: str
    hex: str


COLLECTOR = Colour("yellow", "#ffd23f")
SURFACE = Colour("cyan", "#3fd5ff")
CROP = Colour("white dashed", "#f4f4f4")
KEPT = Colour("green", "#4cd964")
REJECTED = Colour("red", "#ff5a4f")


def overlay_legend() -> str:
    """``"collector (yellow), coating surface (cyan), ..."`` for a drawing of an alignment."""
    return (
        f"collector ({COLLECTOR.name}), coating surface ({SURFACE.name}), crop ({CROP.name}), "
        f"tiles kept ({KEPT.name}) / rejected ({REJECTED.name}, crossed)"
    )
