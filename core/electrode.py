"""The electrode of paper 1 (Deeg et al. 2024) as numbers: composition, loading, geometry.

Shared by the synthetic-mosaic generator and the physics label table so that an image
and its label describe the same electrode.
"""

from __future__ import annotations

MASS_FRACTIONS = {"NCM111": 0.92, "PVdF": 0.04, "carbon": 0.04}
DENSITIES_G_CM3 = {"NCM111": 4.75, "PVdF": 1.78, "carbon": 1.95}
LOADING_MG_CM2 = 15.4
"""Areal mass loading of the coating (all solids), constant across porosities."""
FOIL_THICKNESS_UM = 15.0


def solid_density_g_cm3() -> float:
    """Density of the pore-free coating solid (mass-weighted harmonic mean), g/cm³."""
    return 1.0 / sum(w / DENSITIES_G_CM3[k] for k, w in MASS_FRACTIONS.items())


def coating_thickness_um(porosity: float, loading_mg_cm2: float = LOADING_MG_CM2) -> float:
    """Coating thickness in µm at constant loading: ``t = loading / (rho_s (1 - porosity))``.

    Examples
    --------
    >>> round(coating_thickness_um(0.30), 1)
    52.1
    """
    if not 0.0 <= porosity < 1.0:
        raise ValueError(f"porosity must be in [0, 1), got {porosity}")
    return loading_mg_cm2 * 1e-3 / (solid_density_g_cm3() * (1.0 - porosity)) * 1e4


def active_volume_fraction(porosity: float) -> float:
    """Volume fraction of NCM in the coating (the rest is pores and carbon-binder)."""
    rho_s = solid_density_g_cm3()
    return (1.0 - porosity) * MASS_FRACTIONS["NCM111"] * rho_s / DENSITIES_G_CM3["NCM111"]
