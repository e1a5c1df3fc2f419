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
            }
            for w, m, z in zip(r.windows, r.window_mse, r.latents, strict=True)
        ],
        "model_card": {k: card.get(k) for k in ("name", "date", "metrics")},
    }
