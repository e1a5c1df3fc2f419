"""Labels of the per-pixel phase map that comes with every synthetic mosaic."""

from __future__ import annotations

from enum import IntEnum


class Phase(IntEnum):
    """What a pixel of a synthetic cross-section shows (uint8 values of the phase map).

    ``PORE`` is epoxy that filled the coating's pores; ``EPOXY`` is the mounting resin
    outside the layer. ``CRACK`` is a crack inside a particle. ``VOID``, ``SCRATCH`` and
    ``BUBBLE`` are preparation artefacts; a scratch is labelled only where it crosses the
    coating, a bubble only where it lies in epoxy (mount or pores).
    """

    EPOXY = 0
    PARTICLE = 1
    BINDER = 2
    PORE = 3
    FOIL = 4
    CRACK = 5
    VOID = 6
    SCRATCH = 7
    BUBBLE = 8


COATING_PHASES = (Phase.PARTICLE, Phase.BINDER, Phase.PORE, Phase.CRACK)
"""Phases of the intact coating (artefact-free)."""

ARTEFACT_PHASES = (Phase.VOID, Phase.SCRATCH, Phase.BUBBLE)
