"""Generate the physics label table: DFN half-cell rate capability over porosity x radius.

Development tool (needs PyBaMM, which the app does not). For every grid point the
electrode of paper 1 (``core.electrode``: constant loading, thickness from porosity) is put
into PyBaMM's DFN model with a Li-metal counter electrode and put through the paper's rate
test; the discharge capacity at each C-rate is written in Ah/kg (per kg of NCM, the paper's
definition) and Ah/L (per litre of coating). See ``resources/labels/PROVENANCE.md``.

Each curve runs in a separate worker process that is killed after ``--timeout`` seconds;
failed or timed-out curves are written as NaN with their status.

Usage::

    nice -n 10 python scripts/make_labels.py                      # full grid, paper protocol
    python scripts/make_labels.py --porosities 0.3 --radii 5 --out /tmp/t.csv
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import queue
import sys
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.optimize import brentq  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ratescope.core import electrode  # noqa: E402
from ratescope.core.constants import C_RATES  # noqa: E402

DEFAULT_OUT = ROOT / "resources" / "labels" / "dfn_rate_table.csv"

# --- the paper's cell and test (Deeg et al. 2024, section 2.1, Table 2) -------------------
AREAL_CAPACITY_MAH_CM2 = 2.46
"""Theoretical areal capacity at 15.4 mg/cm²; defines 1C (2.46 mA/cm²)."""
ELECTRODE_DIAMETER_M = 10e-3
SEPARATOR_THICKNESS_M = 260e-6  # Whatman GF/C glass fibre
SEPARATOR_POROSITY = 0.9  # assumption: typical for glass-fibre separators
BRUGGEMAN = 2.0  # tortuosity exponent of the electrolyte in the cathode
TEMPERATURE_K = 293.15  # 20 °C climate chamber
V_MAX, V_MIN = 4.3, 2.6
CV_CUTOFF_FRACTION = {0.2: 1 / 20, 1.0: 1 / 5, 2.0: 1 / 5, 3.0: 1 / 5, 5.0: 1 / 5}
"""End of the CV step as a fraction of the 1C current, per C-rate (Table 2)."""
CHECKUP_RATE, CHECKUP_CV_CUTOFF = 0.1, 1 / 20


def nmc_ocp(sto):
    """Xu2019 NMC open-circuit potential (same polynomial as PyBaMM's ``nmc_ocp_Xu2019``)."""
    return (
        4.3452
        - 1.6518 * sto
        + 1.6225 * sto**2
        - 2.0843 * sto**3
        + 3.5146 * sto**4
        - 2.2166 * sto**5
        - 0.5623e-4 * np.exp(109.451 * sto - 100.006)
    )


def stoichiometry_window() -> tuple[float, float]:
    """Equilibrium stoichiometries at ``V_MAX`` (charged) and ``V_MIN`` or 1 (discharged)."""
    s_full = brentq(lambda s: nmc_ocp(s) - V_MAX, 0.0, 0.5)
    s_empty = 1.0 if nmc_ocp(1.0) > V_MIN else brentq(lambda s: nmc_ocp(s) - V_MIN, 0.5, 1.0)
    return s_full, s_empty


def area_m2() -> float:
    """Electrode area of the Ø10 mm Swagelok cathode, m²."""
    return np.pi * (ELECTRODE_DIAMETER_M / 2) ** 2


def one_c_current_a() -> float:
    """1C current of the cell in A (theoretical areal capacity x area)."""
    return AREAL_CAPACITY_MAH_CM2 * 1e-3 * 1e4 * area_m2()


def ncm_mass_kg() -> float:
    """NCM mass in the electrode, kg."""
    return electrode.LOADING_MG_CM2 * 1e-6 * electrode.MASS_FRACTIONS["NCM111"] * 1e4 * area_m2()


def coating_volume_l(porosity: float) -> float:
    """Coating volume (solids and pores) of the electrode, litres."""
    return electrode.coating_thickness_um(porosity) * 1e-6 * area_m2() * 1e3


def max_concentration() -> float:
    """NCM c_max scaled so the 4.3-2.6 V equilibrium window holds 2.46 mAh/cm².

    Xu2019's c_max (48 230 mol/m³) would give ~240 mAh/g NCM between 4.3 and 2.6 V, far
    above NCM111; scaling c_max keeps the OCP shape and matches the paper's 1C definition.
    The product (active fraction x thickness) is constant at constant loading.
    """
    s_full, s_empty = stoichiometry_window()
    active_thickness_m = (
        electrode.LOADING_MG_CM2
        * 1e-3
        * electrode.MASS_FRACTIONS["NCM111"]
        / electrode.DENSITIES_G_CM3["NCM111"]
        * 1e-2
    )
    q_c_m2 = AREAL_CAPACITY_MAH_CM2 * 1e-3 * 3600 * 1e4
    return q_c_m2 / (96485.33212 * active_thickness_m * (s_empty - s_full))


def exchange_current_density(c_e, c_s_surf, c_s_max, T):
    """Xu2019 NMC exchange-current density written as separate square-root factors.

    ``sqrt(c_e * c_s * (c_max - c_s))`` as one root can stall the solver near a full or
    empty particle surface; the factored form does not.
    """
    import pybamm

    m_ref = 5.76e-11 * pybamm.constants.F
    return m_ref * c_e**0.5 * c_s_surf**0.5 * (c_s_max - c_s_surf) ** 0.5


def parameter_values(porosity: float, radius_um: float):
    """Xu2019 half-cell parameters with the paper's electrode, separator and electrolyte."""
    import pybamm
    from pybamm.input.parameters.lithium_ion.Chen2020 import (
        electrolyte_conductivity_Nyman2008,
        electrolyte_diffusivity_Nyman2008,
    )

    c_max = max_concentration()
    s_full, _ = stoichiometry_window()
    side = area_m2() ** 0.5
    p = pybamm.ParameterValues("Xu2019")
    p.update(
        {
            "Positive electrode thickness [m]": electrode.coating_thickness_um(porosity) * 1e-6,
            "Positive electrode porosity": porosity,
            "Positive electrode active material volume fraction": (
                electrode.active_volume_fraction(porosity)
            ),
            "Positive particle radius [m]": radius_um * 1e-6,
            "Positive electrode Bruggeman coefficient (electrolyte)": BRUGGEMAN,
            "Positive electrode exchange-current density [A.m-2]": exchange_current_density,
            "Maximum concentration in positive electrode [mol.m-3]": c_max,
            "Initial concentration in positive electrode [mol.m-3]": s_full * c_max,
            "Separator thickness [m]": SEPARATOR_THICKNESS_M,
            "Separator porosity": SEPARATOR_POROSITY,
            "Electrolyte conductivity [S.m-1]": electrolyte_conductivity_Nyman2008,
            "Electrolyte diffusivity [m2.s-1]": electrolyte_diffusivity_Nyman2008,
            "Electrode height [m]": side,
            "Electrode width [m]": side,
            "Nominal cell capacity [A.h]": one_c_current_a(),
            "Current function [A]": one_c_current_a(),
            "Lower voltage cut-off [V]": V_MIN,
            "Upper voltage cut-off [V]": V_MAX + 0.05,
            "Open-circuit voltage at 0% SOC [V]": V_MIN,
            "Open-circuit voltage at 100% SOC [V]": V_MAX,
            "Ambient temperature [K]": TEMPERATURE_K,
            "Initial temperature [K]": TEMPERATURE_K,
            "Reference temperature [K]": TEMPERATURE_K,
        }
    )
    return p


def _paper_protocol_curve(p) -> list[tuple[float, str]]:
    """Table 2 sequence: C/10 discharge, then per rate CC-CV charge + CC discharge + check-up.

    Returns (capacity in A h, status) per C-rate; the capacity is that of the CC discharge.
    """
    import pybamm

    i1 = one_c_current_a()
    ck = CHECKUP_RATE * i1
    steps = [f"Discharge at {ck} A until {V_MIN} V"]
    for rate in C_RATES:
        i = rate * i1
        steps += [
            f"Charge at {i} A until {V_MAX} V",
            f"Hold at {V_MAX} V until {CV_CUTOFF_FRACTION[rate] * i1} A",
            f"Discharge at {i} A until {V_MIN} V",
            f"Charge at {ck} A until {V_MAX} V",
            f"Hold at {V_MAX} V until {CHECKUP_CV_CUTOFF * i1} A",
            f"Discharge at {ck} A until {V_MIN} V",
        ]
    model = pybamm.lithium_ion.DFN({"working electrode": "positive"})
    sim = pybamm.Simulation(
        model,
        parameter_values=p,
        experiment=pybamm.Experiment(steps),
        solver=pybamm.IDAKLUSolver(),
    )
    sol = sim.solve()
    out = []
    for k in range(len(C_RATES)):
        idx = 3 + 6 * k
        if idx >= len(sol.cycles) or sol.cycles[idx] is None:
            out.append((float("nan"), "not_reached"))
            continue
        step = sol.cycles[idx]
        q = step["Discharge capacity [A.h]"].entries
        v_end = float(step["Voltage [V]"].entries[-1])
        status = "ok" if abs(v_end - V_MIN) < 0.01 else f"ended_at_{v_end:.3f}V"
        out.append((float(q[-1] - q[0]), status))
    return out


def _from_full_curve(p) -> list[tuple[float, str]]:
    """Fast variant: CC discharge from the relaxed 4.3 V state, C-rate as input parameter."""
    import pybamm

    i1 = one_c_current_a()
    p.update({"Current function [A]": "[input]"})
    sim = pybamm.Simulation(
        pybamm.lithium_ion.DFN({"working electrode": "positive"}),
        parameter_values=p,
        solver=pybamm.IDAKLUSolver(),
    )
    out = []
    for rate in C_RATES:
        try:
            sol = sim.solve([0, 1.3 * 3600 / rate], inputs={"Current function [A]": rate * i1})
        except Exception as exc:  # solver failure at one rate: record and go on
            out.append((float("nan"), f"error:{type(exc).__name__}"))
            continue
        q = float(sol["Discharge capacity [A.h]"].entries[-1])
        ok = "Minimum voltage" in str(sol.termination)
        out.append((q, "ok" if ok else f"termination:{sol.termination}"))
    return out


def run_curve(porosity: float, radius_um: float, protocol: str) -> list[tuple[float, str]]:
    """Capacities (A h) and statuses at each of ``C_RATES`` for one electrode."""
    p = parameter_values(porosity, radius_um)
    if protocol == "paper":
        return _paper_protocol_curve(p)
    return _from_full_curve(p)


def _worker(tasks, results) -> None:
    import pybamm  # noqa: F401  (import once per worker)

    while (task := tasks.get()) is not None:
        try:
            res = run_curve(*task)
        except Exception as exc:
            res = [(float("nan"), f"error:{type(exc).__name__}:{exc}"[:120])] * len(C_RATES)
        results.put((task, res))


class CurveRunner:
    """One worker process; a curve that exceeds the timeout kills it and a new one starts."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.ctx = mp.get_context("spawn")
        self.proc = None

    def _start(self):
        self.tasks, self.results = self.ctx.Queue(), self.ctx.Queue()
        self.proc = self.ctx.Process(target=_worker, args=(self.tasks, self.results), daemon=True)
        self.proc.start()

    def run(self, porosity, radius_um, protocol):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.tasks.put((porosity, radius_um, protocol))
        try:
            _, res = self.results.get(timeout=self.timeout_s)
            return res
        except queue.Empty:
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return [(float("nan"), f"timeout_{self.timeout_s:g}s")] * len(C_RATES)

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            self.tasks.put(None)
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--porosities",
        type=float,
        nargs="+",
        default=[round(x, 3) for x in np.arange(0.15, 0.5501, 0.025)],
    )
    ap.add_argument("--radii", type=float, nargs="+", default=[3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    ap.add_argument("--protocol", choices=["paper", "from-full"], default="paper")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per curve")
    args = ap.parse_args(argv)

    runner = CurveRunner(args.timeout)
    rows, times = [], []
    n = len(args.porosities) * len(args.radii)
    t_start = time.time()
    try:
        for i, (por, rad) in enumerate((p, r) for p in args.porosities for r in args.radii):
            t0 = time.time()
            res = runner.run(por, rad, args.protocol)
            times.append(time.time() - t0)
            thick = electrode.coating_thickness_um(por)
            for rate, (q_ah, status) in zip(C_RATES, res, strict=True):
                rows.append(
                    {
                        "porosity": f"{por:.4f}",
                        "particle_radius_um": f"{rad:.3f}",
                        "thickness_um": f"{thick:.3f}",
                        "c_rate": f"{rate:g}",
                        "capacity_ah_kg": f"{q_ah / ncm_mass_kg():.4f}",
                        "capacity_ah_l": f"{q_ah / coating_volume_l(por):.4f}",
                        "status": status,
                    }
                )
            caps = " ".join(f"{q / ncm_mass_kg():6.1f}" for q, _ in res)
            print(
                f"[{i + 1}/{n}] porosity {por:.3f} radius {rad:g} um: {caps} Ah/kg "
                f"({times[-1]:.1f} s) {sorted({s for _, s in res})}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        runner.close()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".csv.part")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, args.out)

    bad = [r for r in rows if r["status"] != "ok"]
    spec = np.array([float(r["capacity_ah_kg"]) for r in rows])
    vol = np.array([float(r["capacity_ah_l"]) for r in rows])
    print(
        f"wrote {args.out}: {len(rows)} rows, {n} curves, {len(bad)} rows not ok; "
        f"total {time.time() - t_start:.0f} s, per curve median {np.median(times):.2f} s "
        f"max {max(times):.2f} s; Ah/kg {np.nanmin(spec):.1f}-{np.nanmax(spec):.1f}, "
        f"Ah/L {np.nanmin(vol):.1f}-{np.nanmax(vol):.1f}; c_max {max_concentration():.0f}",
        file=sys.stderr,
    )
    for r in bad:
        print(f"  not ok: {r}", file=sys.stderr)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
