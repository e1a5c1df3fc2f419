"""The embedded RateCNN ensemble's full recipe on a lent GPU machine, in one command.

Renders the synthetic cache, trains both units x 5 folds side by side (one process per
model on the one GPU), fits the schedule to the time budget, publishes into
``resources/models`` and packs the result into ``--out`` for the device tool to bring
back (two archives and a summary: its limit is 8 files; when publishing fails or is cut
off, the training checkpoints come back instead, three to an archive)::

    python3 scripts/device_recipe.py --out "$OUT" [--train-s 360] [--steps 5000]

Unpack here with ``tar xzf models.tgz`` in the repository root.

The step count: all ten start under the full schedule (``--steps``). After
``--calibrate-s`` seconds of training the slowest model's rate says how many steps fit
before the deadline; when fewer, all are stopped and resumed from their checkpoints
under that shorter schedule (:mod:`core.train.loop` resumes a run under another length).
A stop is a SIGTERM, on which a training process saves its checkpoint at its next step
(besides every 20 steps). Whatever still runs at the deadline is stopped and published as
it is (its best weights so far; the card says so); when not all ten models could be
published, the run counts as failed and the checkpoints come back instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "scripts" / "train_embedded.py"
UNITS = ("specific", "volumetric")
CHECKPOINT_EVERY = 20  # core.train.synthetic.embedded.train_embedded
STEP = re.compile(r"step (\d+)/(\d+)")


def fitted_steps(rate: float, done: int, seconds_left: float, restart_s: float,
                 max_steps: int, every: int = CHECKPOINT_EVERY) -> int:  # fmt: skip
    """Length of a schedule that ends by the deadline.

    ``done`` steps so far plus what ``rate`` (steps/s) does in ``seconds_left`` less the
    ``restart_s`` a restart costs, rounded down to a checkpoint; at most ``max_steps``,
    at least one checkpoint interval.
    """
    fit = done + rate * max(0.0, seconds_left - restart_s)
    return max(every, min(max_steps, int(fit) // every * every))


def last_step(log: Path) -> int | None:
    """The last ``step N/M`` a training log printed, or None before the first."""
    try:
        found = STEP.findall(log.read_text(errors="replace"))
    except FileNotFoundError:
        return None
    return int(found[-1][0]) if found else None


class Model:
    """One unit x fold training process and what its log says."""

    def __init__(self, a, unit: str, fold: int):
        self.a, self.unit, self.fold = a, unit, fold
        self.log = Path(a.logs) / f"train_{unit}_fold{fold}.log"
        self.proc: subprocess.Popen | None = None
        self.asked = False  # a SIGTERM was sent to the current process
        self.seen: list[tuple[float, int]] = []  # (time, step) whenever the step changed
        self.started = 0.0

    def start(self, steps: int) -> None:
        a = self.a
        cmd = [sys.executable, str(TRAIN), "train", "--unit", self.unit, "--folds",
               str(self.fold), "--steps", str(steps), "--batch", str(a.batch),
               "--device", a.device, "--precision", a.precision, "--threads", "1",
               "--log-every-s", str(a.log_every_s),
               "--out", a.run, "--cache", a.cache, "--train", str(a.train),
               "--test", str(a.test)]  # fmt: skip
        if a.photometric:
            cmd += ["--photometric", str(a.photometric)]
        if a.init:
            cmd += ["--init", a.init, "--lr-max", str(a.lr_max)]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        with self.log.open("a") as fh:
            fh.write(f"\n# {' '.join(cmd)}\n")
            fh.flush()
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        self.started, self.seen, self.asked = time.time(), [], False

    def poll(self) -> None:
        step = last_step(self.log)
        if step is not None and (not self.seen or step != self.seen[-1][1]):
            self.seen.append((time.time(), step))

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rate(self) -> float | None:
        """Steps per second between the first and the last step seen since the start."""
        if len(self.seen) < 2 or self.seen[-1][0] <= self.seen[0][0]:
            return None
        (t0, s0), (t1, s1) = self.seen[0], self.seen[-1]
        return (s1 - s0) / (t1 - t0)

    def ask_stop(self) -> None:
        """SIGTERM: the training saves its checkpoint at its next step and exits."""
        if self.running and not self.asked:
            self.proc.terminate()
            self.asked = True

    def stop(self) -> None:
        """Ask to stop (once: a second SIGTERM would end it while it exits) and wait."""
        self.ask_stop()
        if self.running:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_all(models: list[Model]) -> None:
    """Stop every model at once (each saves its checkpoint at its next step)."""
    for m in models:
        m.ask_stop()
    for m in models:
        m.stop()


def pack_checkpoints(run_dir: Path, out: Path, per_archive: int = 3) -> list[str]:
    """The training checkpoints in archives of ``per_archive`` (each under the 16 MB a
    returned file may have): what comes back when publishing fails or runs out of time.
    Publish them here with ``train_embedded.py publish --run RUN`` (it resumes nothing)."""
    ckpts = sorted((run_dir / "checkpoints").glob("*.ckpt.safetensors"))
    names = []
    for n in range(0, len(ckpts), per_archive):
        name = f"checkpoints_{n // per_archive}.tgz"
        with tarfile.open(out / name, "w:gz") as tar:
            for f in ckpts[n : n + per_archive]:
                tar.add(f, arcname=f"checkpoints/{f.name}")
        names.append(name)
    return names


def run(cmd: list[str], log: Path) -> None:
    with log.open("w") as fh:
        subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=True,
                       env=dict(os.environ, PYTHONUNBUFFERED="1"))  # fmt: skip


def train_all(a, summary: dict) -> int:
    """Train the ten models within ``a.train_s``; returns the schedule length used."""
    models = [Model(a, u, f) for u in UNITS for f in range(5)]
    t0 = time.time()
    deadline = t0 + a.train_s
    steps = a.steps
    for m in models:
        m.start(steps)
    calibrated = False
    while any(m.running for m in models) and time.time() < deadline:
        time.sleep(a.poll_s)
        for m in models:
            m.poll()
        started = [m.seen[0][0] for m in models if m.seen]
        if calibrated or len(started) < len(models) or time.time() - max(started) < a.calibrate_s:
            continue
        rates = [m.rate() for m in models if m.running]
        if not rates or None in rates:
            continue  # some model has not shown two steps yet
        calibrated = True
        restart_s = max(m.seen[0][0] - m.started for m in models)  # launch -> first step
        done = min(m.seen[-1][1] for m in models)
        fit = fitted_steps(min(rates), done, deadline - time.time(), restart_s, a.steps)
        summary["calibration"] = {"steps_per_s_slowest": min(rates), "restart_s": restart_s,
                                  "steps_done": done, "fitted_steps": fit}  # fmt: skip
        print(f"calibration: {summary['calibration']}", flush=True)
        if fit < steps:
            steps = fit
            stop_all(models)
            for m in models:
                m.start(steps)
    for m in models:
        m.poll()
    stop_all(models)
    summary["train_s"] = time.time() - t0
    summary["final_steps"] = {f"{m.unit}_fold{m.fold}": (m.seen[-1][1] if m.seen else 0)
                              for m in models}  # fmt: skip
    summary["exit_codes"] = {f"{m.unit}_fold{m.fold}": m.proc.returncode for m in models}
    return steps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT", "runs/device_out"))
    p.add_argument("--run", default="runs/device")
    p.add_argument("--cache", default="data_cache/synthetic_looks_v1.h5")
    p.add_argument("--dest", default=str(ROOT / "resources" / "models"))
    p.add_argument("--steps", type=int, default=5000, help="the paper's schedule, at most")
    p.add_argument("--train-s", type=float, default=360.0, help="wall seconds for training")
    p.add_argument("--calibrate-s", type=float, default=45.0)
    p.add_argument("--poll-s", type=float, default=2.0)
    p.add_argument("--log-every-s", type=float, default=5.0, help="training progress lines")
    p.add_argument("--batch", type=int, default=38)
    p.add_argument("--train", type=int, default=216)
    p.add_argument("--test", type=int, default=72)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--photometric", type=float, default=0.0)
    p.add_argument(
        "--init",
        default="",
        help="fine-tune every layer from this models folder's fold files (e.g. a copy of "
        "resources/models) instead of training from scratch",
    )
    p.add_argument("--lr-max", type=float, default=3e-4, help="peak learning rate with --init")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    a.logs = str(Path(a.run) / "logs")
    Path(a.logs).mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    summary: dict = {"device": a.device, "args": dict(vars(a))}
    try:
        import torch

        if a.device.startswith("cuda"):
            summary["gpu"] = torch.cuda.get_device_name(0)
        summary["torch"] = torch.__version__
        sizes = ["--train", str(a.train), "--test", str(a.test)]
        run([sys.executable, str(TRAIN), "gen", "--out", a.run, "--cache", a.cache,
             "--workers", str(a.workers), *sizes], Path(a.logs) / "gen.log")  # fmt: skip
        summary["gen_s"] = time.time() - t0
        steps = train_all(a, summary)
        where = summary.get("gpu", a.device)
        status = (f"5 folds of each unit, {steps} steps at batch {a.batch} (the paper: 5000), "
                  f"{a.precision}, the ten models side by side on one {where} "
                  f"(scripts/device_recipe.py, {a.train_s:.0f} s of training"
                  + (f"; every layer fine-tuned from {a.init}, peak lr {a.lr_max:g}" if a.init
                     else "; from scratch") + ")")  # fmt: skip
        t1 = time.time()
        run([sys.executable, str(TRAIN), "publish", "--run", a.run, "--out",
             str(Path(a.run) / "pub"), "--dest", a.dest, "--cache", a.cache, "--steps",
             str(steps), "--batch", str(a.batch), "--precision", a.precision, "--device",
             a.device, "--threads", "1", "--folds", "0,1,2,3,4", *sizes,
             "--status", status], Path(a.logs) / "publish.log")  # fmt: skip
        summary["publish_s"] = time.time() - t1
        made = sorted(p.name for p in (Path(a.run) / "pub").glob("*_fold*.safetensors"))
        summary["published"] = made
        if len(made) < len(UNITS) * 5:  # dest still holds the models it had before
            raise RuntimeError(f"published {len(made)} of {len(UNITS) * 5} models (publish.log)")
        dest = Path(a.dest)
        files = sorted(dest.glob("*_fold*.safetensors")) + sorted(dest.glob("*_ood.safetensors"))
        with tarfile.open(out / "models.tgz", "w:gz") as tar:
            for f in [*files, dest / "MODEL_CARD_ratecnn.md"]:
                tar.add(f, arcname=f"resources/models/{f.name}")
        code = 0
    except Exception as exc:  # noqa: BLE001 - reported in the summary, logs come back
        summary["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        if not (out / "models.tgz").exists():
            summary["checkpoints"] = pack_checkpoints(Path(a.run), out)
        summary["total_s"] = time.time() - t0
        with tarfile.open(out / "logs.tgz", "w:gz") as tar:
            tar.add(a.logs, arcname="logs")
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        print(json.dumps(summary, indent=1, default=str), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
