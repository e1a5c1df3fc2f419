"""``python main.py volume FILE``: what a tomography volume holds; optionally its CAE
reconstruction with the paper's statistics and every window's latent features."""

from __future__ import annotations

import argparse
import time

from ratescope.cli.common import fail, save_json, thread_budget

HELP = "describe a 3D volume (TIFF, HDF5, folder); --reconstruct runs the 3D CAE"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="multi-page TIFF, HDF5 file or folder of slice images")
    p.add_argument("--dataset", help="HDF5 dataset (required when the file holds several)")
    p.add_argument("--kind", choices=["labels", "grayscale"], help="default: guessed")
    p.add_argument(
        "--phases",
        default="pore=0,active=1,carbon_binder=2",
        help="label code of each phase, e.g. 'pore=0,active=1,carbon_binder=2'",
    )
    p.add_argument("--reconstruct", metavar="OUT.h5", help="write the CAE reconstruction")
    p.add_argument(
        "--slices",
        metavar="Z0:Z1",
        help="reconstruct only these slices (Python slice bounds, e.g. 200:251 or -40:)",
    )
    p.add_argument("--model", help="CAE weights (default: the embedded model)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="also write everything as JSON ('-' for stdout)")
    p.add_argument(
        "--no-metrics",
        action="store_true",
        help="skip the microstructure metrics of a label volume (tortuosity, particle "
        "sizes, surface, connectivity, rate curves; about a minute for 23 M voxels)",
    )
    p.add_argument("--voxel-um", type=float, help="voxel edge in µm when the file has none")


def _phase_map(text: str):
    from ratescope.core.volume.phases import DEFAULT_LEVELS, PhaseMap

    codes = {}
    for item in text.split(","):
        name, _, code = item.partition("=")
        codes[name.strip()] = int(code)
    return PhaseMap(codes=codes, levels={k: DEFAULT_LEVELS.get(k, 0.0) for k in codes})


def run(args: argparse.Namespace) -> int:
    from ratescope.core.errors import RateScopeError
    from ratescope.core.volume.io import MultipleDatasets, guess_kind, open_volume, scaling_for
    from ratescope.core.volume.phases import phase_fractions
    from ratescope.core.volume.subvolume import parse_slices, sub_volume

    try:
        phases = _phase_map(args.phases)
    except ValueError:
        return fail(f"--phases: expected name=code pairs, got '{args.phases}'")
    try:
        src = open_volume(args.file, dataset=args.dataset)
    except MultipleDatasets as e:
        return fail(f"{e} (use --dataset NAME)")
    except RateScopeError as e:
        return fail(e)
    with src:
        kind = args.kind or guess_kind(src)
        info: dict = {
            "file": str(src.path),
            "format": src.format,
            "dataset": src.dataset,
            "shape_zyx": list(src.shape),
            "dtype": str(src.dtype),
            "voxel_size_um_zyx": list(src.voxel_size_um) if src.voxel_size_um else None,
            "kind": kind,
        }
        print(f"{src.path.name}{' :: ' + src.dataset if src.dataset else ''}  ({src.format})")
        print(f"  shape (z, y, x) {src.shape}, {src.dtype}, {src.nbytes / 1e6:.1f} MB")
        vs = src.voxel_size_um
        print(
            "  voxel size "
            + (
                f"{vs[0]:.4g} x {vs[1]:.4g} x {vs[2]:.4g} µm (z, y, x)"
                if vs
                else "unknown (not in the metadata)"
            )
        )
        try:
            if kind == "labels":
                fr = phase_fractions(src, phases)
                info["phase_fractions"] = fr
                print("  phase fractions: " + ", ".join(f"{k} {v:.2%}" for k, v in fr.items()))
                if args.no_metrics:
                    pass
                elif args.voxel_um is None and not src.voxel_size_um:
                    why = "the voxel size is unknown (give it with --voxel-um)"
                    print(f"  microstructure metrics skipped: {why}")
                    info["metrics_skipped"] = why
                else:
                    info.update(_metrics(src, phases, args))
            else:
                print("  grayscale volume (no phase fractions)")
            if args.reconstruct:
                scaling = scaling_for(src, kind, phases)
                z0, z1 = 0, src.shape[0]
                if args.slices:
                    try:
                        z0, z1 = parse_slices(args.slices, src.shape[0])
                    except ValueError as e:
                        return fail(f"--slices: {e}")
                part = sub_volume(src, z0, z1) if (z0, z1) != (0, src.shape[0]) else src
                info["reconstruction"] = _reconstruct(part, scaling, args, z0)
        except RateScopeError as e:
            return fail(e)
    return save_json(info, args.json) if args.json else 0


def _metrics(src, phases, args) -> dict:
    """Microstructure metrics (core.volume.metrics), printed and returned as JSON keys."""
    from ratescope.core.volume.metrics import microstructure_metrics

    last = [time.monotonic()]

    def progress(frac: float, msg: str) -> None:
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            print(f"  [{frac:4.0%}] {msg}", flush=True)

    m = microstructure_metrics(src, phases, voxel_um=args.voxel_um, progress=progress)
    d = m.as_dict()
    t = m.tortuosity
    state = "" if t.converged else " (NOT converged)"
    print(
        f"  tortuosity factor of the pores (axis {t.axis}): "
        + (f"{t.tau:.3f}{state}, D_eff/D {t.relative_diffusivity:.4f}" if t.percolating else "inf")
        + f" ({t.iterations} iterations, {t.seconds:.1f} s)"
    )
    c = m.connectivity
    print(
        f"  pore connectivity: {c.percolating_fraction:.2%} of the pores connect the faces, "
        f"{c.n_clusters} clusters"
    )
    ps = m.particles
    if ps is not None:
        print(
            f"  particle size (volume-weighted): d10 {ps.d10_um:.2f}, d50 {ps.d50_um:.2f}, "
            f"d90 {ps.d90_um:.2f} µm; number median {ps.number_d50_um:.2f} µm "
            f"({ps.n_particles} particles, {ps.n_cut} cut by the faces left out)"
        )
    print(
        f"  specific surface active/pore {m.specific_surface_um:.4f} µm^-1 "
        f"(whole active surface {m.active_surface_um:.4f} µm^-1)"
    )
    ph = m.physics
    rates = "  ".join(f"{r:g}C" for r in ph["c_rates"])
    for name, curve in ph["curves"].items():
        if curve is None:
            continue
        label = {"bruggeman": "Bruggeman", "measured_tortuosity": "measured tau"}[name]
        for unit, values in curve.items():
            text = " ".join(f"{v:6.1f}" for v in values)
            print(f"  rate curve, {label:<12} {ph['units'][unit]:>5} ({rates}): {text}")
    for note in ph["notes"]:
        print(f"  rate curve: {note}")
    return d


def _reconstruct(src, scaling, args, z_offset: int = 0) -> dict:
    """Reconstruct ``src`` (slices ``z_offset`` ... of the file); window z0 are absolute."""
    from ratescope.core.models.cae import load_model
    from ratescope.core.volume.reconstruct import Reconstructor, reconstruct_volume

    model, card = load_model(args.model, device=args.device)
    rec = Reconstructor(model, src, scaling, device=args.device)
    last = [0.0]

    def progress(frac: float, msg: str) -> None:
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            thread_budget(args).refresh()  # share the cores with runs started meanwhile
            print(f"  [{frac:4.0%}] {msg}", flush=True)

    t0 = time.perf_counter()
    r = reconstruct_volume(rec, args.reconstruct, progress)
    dt = time.perf_counter() - t0
    z1 = z_offset + src.shape[0]
    import h5py

    with h5py.File(args.reconstruct, "a") as f:
        f.attrs["slices"] = [z_offset, z1]  # of the source volume
    print(
        f"  reconstructed {len(r.windows)} windows (slices {z_offset}-{z1 - 1}) in {dt:.1f} s "
        f"-> {args.reconstruct}"
    )
    data = card.get("training_data", {}).get("kind", "?")
    print(f"  model: {card.get('name', '?')} (trained on {data})")
    print(f"  reconstruction MSE {r.mse:.4f} (CAE input units)")
    v = r.voxel_test
    print(
        f"  voxel means original {v.mean_a:.4f} (sd {v.std_a:.4f}) vs reconstructed "
        f"{v.mean_b:.4f} (sd {v.std_b:.4f}), n = {v.n_a}: t-test p = {v.pvalue:.3g}"
    )
    if r.window_means_test is not None:
        print(
            f"  per-window means, paired t-test over {r.window_means_test.n_a} windows: "
            f"p = {r.window_means_test.pvalue:.3g}"
        )
    print("  window (z0, y0, x0)   MSE      latent features")
    for w, m, z in zip(r.windows, r.window_mse, r.latents, strict=True):
        z0 = w.z0 + z_offset
        print(f"  ({z0:4d},{w.y0:5d},{w.x0:5d})  {m:.4f}  " + " ".join(f"{x:7.3f}" for x in z))
    porosity, regressed = _latent_porosity(model, r.latents)
    return {
        "output": args.reconstruct,
        "slices": [z_offset, z1],
        "seconds": dt,
        "mse": r.mse,
        "voxel_ttest": v.as_dict(),
        "window_means_ttest": r.window_means_test.as_dict() if r.window_means_test else None,
        "windows": [
            {
                "z0": w.z0 + z_offset,
                "y0": w.y0,
                "x0": w.x0,
                "mse": float(m),
                "latents": [float(x) for x in z],
                **({} if porosity is None else {"porosity_from_latents": float(porosity[i])}),
            }
            for i, (w, m, z) in enumerate(zip(r.windows, r.window_mse, r.latents, strict=True))
        ],
        "porosity_from_latents": regressed,
        "model_card": {k: card.get(k) for k in ("name", "date", "metrics")},
    }


def _latent_porosity(model, latents):
    """Porosity regressed from each window's latents (``core.volume.latents``), printed;
    ``(None, None)`` when the stored analysis is missing or was made for another CAE."""
    from ratescope.core.errors import RateScopeError
    from ratescope.core.volume.latents import load_reference, weights_sha256

    try:
        ref = load_reference()
    except RateScopeError as e:
        print(f"  porosity from the latents: not available ({e})")
        return None, None
    if ref.data["model"].get("weights_sha256") != weights_sha256(model):
        print("  porosity from the latents: not available (analysis made for another CAE)")
        return None, None
    p = ref.porosity(latents)
    print(
        f"  porosity from the latents: mean {p.mean():.2%} over {len(p)} windows (ridge on the "
        f"10 latents, held-out R² {ref.r2_heldout:.2f} on synthetic volumes; the mean input "
        f"alone: R² {ref.baseline_r2_heldout:.2f})"
    )
    return p, {
        "mean": float(p.mean()),
        "r2_heldout": ref.r2_heldout,
        "baseline_r2_heldout": ref.baseline_r2_heldout,
        "what": "ridge regression of porosity on the 10 latents, fitted on SYNTHETIC volumes "
        "(resources/models/cae_latents.json, scripts/latent_analysis.py)",
    }
