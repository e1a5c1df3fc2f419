"""Physics labels: rate-capability curves interpolated from the committed DFN table.

The table (``resources/labels/dfn_rate_table.csv``) holds the discharge capacity at each
C-rate of ``core.constants.C_RATES`` on a regular grid of porosity x particle radius,
computed once with a DFN half-cell model by ``scripts/make_labels.py`` (see
``resources/labels/PROVENANCE.md``). This module only reads and interpolates it; it does
not need PyBaMM.

Units follow the paper: ``"specific"`` is Ah per kg of NCM, ``"volumetric"`` is Ah per litre
of coating (solids and pores).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from ratescope.core.constants import C_RATES, UNITS
from ratescope.core.resources import RESOURCES

DEFAULT_TABLE = RESOURCES / "labels" / "dfn_rate_table.csv"
_COLUMNS = {
    "specific": "capacity_ah_kg",
    "volumetric": "capacity_ah_l",
}
_REQUIRED = ("porosity", "particle_radius_um", "thickness_um", "c_rate", "status")


@dataclass(frozen=True, eq=False)
class LabelTable:
    """A complete rate-capability table on a regular porosity x radius grid.

    Attributes
    ----------
    porosity : ndarray, shape (P,)
        Grid porosities (fraction), ascending.
    particle_radius_um : ndarray, shape (R,)
        Grid particle radii in µm, ascending.
    thickness_um : ndarray, shape (P,)
        Coating thickness at each grid porosity (constant loading).
    c_rates : ndarray, shape (C,)
        C-rates of the last axis of the capacity arrays.
    specific : ndarray, shape (P, R, C)
        Capacity in Ah/kg (per kg of NCM).
    volumetric : ndarray, shape (P, R, C)
        Capacity in Ah/L (per litre of coating).
    path : Path or None
        The file it was read from.
    """

    porosity: np.ndarray
    particle_radius_um: np.ndarray
    thickness_um: np.ndarray
    c_rates: np.ndarray
    specific: np.ndarray
    volumetric: np.ndarray
    path: Path | None = None
    _interp: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for unit in _COLUMNS:
            self._interp[unit] = RegularGridInterpolator(
                (self.porosity, self.particle_radius_um),
                getattr(self, unit),
                method="pchip",
                bounds_error=False,
                fill_value=np.nan,
            )

    def values(self, unit: str) -> np.ndarray:
        """The capacity grid, shape (P, R, C), in ``unit`` (``"specific"``/``"volumetric"``)."""
        return getattr(self, _check_unit(unit))

    def curves(self, porosity, particle_radius_um, unit: str = "specific") -> np.ndarray:
        """Interpolated curves for many electrodes.

        Parameters
        ----------
        porosity, particle_radius_um : array_like, shape (N,) or scalar
            Electrode porosity (fraction) and mean particle radius (µm), broadcast together.
        unit : {"specific", "volumetric"}
            Ah/kg of NCM or Ah/L of coating.

        Returns
        -------
        ndarray, shape (N, C)
            Capacity at each C-rate of ``c_rates``.

        Raises
        ------
        ValueError
            If any point lies outside the grid or the unit is unknown.
        """
        unit = _check_unit(unit)
        por, rad = np.broadcast_arrays(
            np.atleast_1d(np.asarray(porosity, dtype=float)),
            np.atleast_1d(np.asarray(particle_radius_um, dtype=float)),
        )
        self._check_range("porosity", por, self.porosity, "")
        self._check_range("particle radius", rad, self.particle_radius_um, " µm")
        return self._interp[unit](np.column_stack([por.ravel(), rad.ravel()]))

    def curve(self, porosity: float, particle_radius_um: float, unit: str = "specific"):
        """Interpolated curve for one electrode, shape (C,); see :meth:`curves`."""
        return self.curves(porosity, particle_radius_um, unit)[0]

    @staticmethod
    def _check_range(name, x, grid, suffix):
        lo, hi = float(grid[0]), float(grid[-1])
        bad = ~((x >= lo - 1e-12) & (x <= hi + 1e-12))
        if np.any(bad):
            first = float(x[bad].flat[0])
            raise ValueError(
                f"{name} {first:g}{suffix} is outside the label table's range "
                f"[{lo:g}, {hi:g}]{suffix}; the physics labels do not extrapolate"
            )


def _check_unit(unit: str) -> str:
    if unit not in _COLUMNS:
        raise ValueError(f"unit must be one of {sorted(UNITS)} ({UNITS}), got {unit!r}")
    return unit


def load_label_table(path: str | Path = DEFAULT_TABLE) -> LabelTable:
    """Read a label table CSV written by ``scripts/make_labels.py``.

    Parameters
    ----------
    path : str or Path
        The CSV; defaults to the table shipped in ``resources/labels``.

    Returns
    -------
    LabelTable

    Raises
    ------
    ValueError
        If columns are missing, the grid is not complete and regular, the C-rates differ
        from ``core.constants.C_RATES``, or any grid point failed (status not ``ok``).
    """
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path.name}: the label table is empty")
    missing = [c for c in (*_REQUIRED, *_COLUMNS.values()) if c not in rows[0]]
    if missing:
        raise ValueError(f"{path.name}: missing columns {missing}")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        r = failed[0]
        raise ValueError(
            f"{path.name}: {len(failed)} rows did not solve, e.g. porosity {r['porosity']}, "
            f"radius {r['particle_radius_um']} µm, {r['c_rate']}C: {r['status']}"
        )

    por = np.array([float(r["porosity"]) for r in rows])
    rad = np.array([float(r["particle_radius_um"]) for r in rows])
    rate = np.array([float(r["c_rate"]) for r in rows])
    p_grid, p_idx = np.unique(por, return_inverse=True)
    r_grid, r_idx = np.unique(rad, return_inverse=True)
    c_grid, c_idx = np.unique(rate, return_inverse=True)
    if c_grid.size != len(C_RATES) or not np.allclose(c_grid, C_RATES):
        raise ValueError(f"{path.name}: C-rates {c_grid.tolist()} differ from {list(C_RATES)}")
    shape = (p_grid.size, r_grid.size, c_grid.size)
    count = np.zeros(shape, dtype=int)
    np.add.at(count, (p_idx, r_idx, c_idx), 1)
    if not np.all(count == 1):
        raise ValueError(
            f"{path.name}: not a complete regular grid ({int((count == 0).sum())} missing, "
            f"{int((count > 1).sum())} duplicated entries)"
        )
    arrays = {}
    for unit, col in _COLUMNS.items():
        a = np.empty(shape)
        a[p_idx, r_idx, c_idx] = [float(r[col]) for r in rows]
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path.name}: non-finite values in {col}")
        arrays[unit] = a
    thickness = np.empty(p_grid.size)
    thickness[p_idx] = [float(r["thickness_um"]) for r in rows]
    return LabelTable(
        porosity=p_grid,
        particle_radius_um=r_grid,
        thickness_um=thickness,
        c_rates=c_grid,
        specific=arrays["specific"],
        volumetric=arrays["volumetric"],
        path=path,
    )


def label_curve(
    porosity: float,
    particle_radius_um: float,
    unit: str = "specific",
    table: LabelTable | None = None,
) -> np.ndarray:
    """Rate-capability curve of one electrode, interpolated from the label table.

    Parameters
    ----------
    porosity : float
        Coating porosity as a fraction (e.g. 0.30).
    particle_radius_um : float
        Mean NCM particle radius in µm.
    unit : {"specific", "volumetric"}
        Ah/kg of NCM or Ah/L of coating.
    table : LabelTable, optional
        A loaded table; by default the shipped one is read (pass one when calling often).

    Returns
    -------
    ndarray, shape (5,)
        Capacity at 0.2, 1, 2, 3, 5 C (``core.constants.C_RATES``).

    Raises
    ------
    ValueError
        If the point lies outside the table's grid or the unit is unknown.

    Examples
    --------
    >>> label_curve(0.30, 5.0).shape
    (5,)
    """
    table = load_label_table() if table is None else table
    return table.curve(porosity, particle_radius_um, unit)


def noisy_labels(
    curves: np.ndarray, rng: np.random.Generator | int | None, relative_sd: float = 0.01
) -> np.ndarray:
    """Measurement-like scatter: multiply each value by ``1 + N(0, relative_sd)``.

    Parameters
    ----------
    curves : array_like
        Capacities (any shape).
    rng : numpy.random.Generator or int or None
        Random generator or seed.
    relative_sd : float
        Standard deviation of the relative error (0.01 = 1 %).

    Returns
    -------
    ndarray
        A new array of the same shape.
    """
    if not relative_sd >= 0:
        raise ValueError(f"relative_sd must be >= 0, got {relative_sd}")
    curves = np.asarray(curves, dtype=float)
    rng = np.random.default_rng(rng)
    return curves * (1.0 + rng.normal(0.0, relative_sd, size=curves.shape))
