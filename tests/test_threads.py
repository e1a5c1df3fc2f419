"""Concurrent runs share the cores (issue 20): ``--threads``, ``RATESCOPE_THREADS``, the
run registrations of :mod:`core.threads` and the CLI commands that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tifffile
import torch

from ratescope.cli import build_parser, main
from ratescope.core import threads
from ratescope.core.errors import RateScopeError
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.core.threads import ENV, RUNTIME_ENV, Registry, Run, ThreadBudget, share

ROOT = Path(__file__).resolve().parent.parent
FAKE_PIDS = (4_000_001, 4_000_002, 4_000_003, 4_000_004, 4_000_005, 4_000_006, 4_000_007)
"""Above Linux's pid_max: never a real process, held live by the test's own locks."""


class Applied:
    """Stands in for torch: records the thread counts set."""

    def __init__(self, now: int = 8):
        self.now, self.calls = now, []

    def __call__(self, n: int | None) -> int:
        if n is not None:
            self.now = n
            self.calls.append(n)
        return self.now


def fake_runs(folder: Path, n: int, threads: int | None = None) -> list[Registry]:
    """``n`` live registrations (held open by this process) of other, fake runs."""
    runs = []
    for pid in FAKE_PIDS[:n]:
        r = Registry(folder)
        r.register(threads, pid=pid)
        runs.append(r)
    return runs


def budget(folder: Path, option: int | None = None, env: dict | None = None, capacity=8):
    env = {RUNTIME_ENV: str(folder), **(env or {})}
    return ThreadBudget(option, env=env, capacity=capacity, apply=Applied(), loadavg=lambda: None)


def test_the_option_wins_over_the_environment_and_both_over_the_share(tmp_path):
    others = fake_runs(tmp_path, 3)
    with budget(tmp_path, option=3, env={ENV: "2"}) as b:
        assert (b.threads, b.source, b.note()) == (3, "--threads", None)
    with budget(tmp_path, env={ENV: "2"}) as b:
        assert (b.threads, b.source) == (2, ENV)
        assert (tmp_path / str(os.getpid())).read_text() == "2"  # others see its count
    for auto in ("auto", "", " AUTO "):
        with budget(tmp_path, env={ENV: auto}) as b:
            assert (b.threads, b.source, b.runs) == (2, "shared", 4)
    for r in others:
        r.close()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_environment_value_is_refused(tmp_path, value, monkeypatch, capsys):
    with pytest.raises(RateScopeError, match=ENV):
        budget(tmp_path, env={ENV: value})
    monkeypatch.setenv(ENV, value)
    monkeypatch.setenv(RUNTIME_ENV, str(tmp_path))
    assert main(["volume", str(tmp_path / "x.tif")]) == 1
    assert f"error: {ENV}={value!r}: expected a positive whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("capacity", "others", "expected"), [(8, 0, 8), (8, 1, 4), (8, 3, 2), (2, 3, 1), (2, 6, 1)]
)
def test_n_live_runs_share_the_cores(tmp_path, capacity, others, expected):
    runs = fake_runs(tmp_path, others)
    with budget(tmp_path, capacity=capacity) as b:
        assert b.threads == expected == max(1, capacity // (others + 1))
        assert b.runs == others + 1
        assert (tmp_path / str(os.getpid())).read_text() == "auto"
        if others and expected < capacity:
            assert f"{others + 1} RateScope runs share the cores" in b.note()
            assert f"uses {expected} of {capacity} threads" in b.note()
    for r in runs:
        r.close()
    assert os.listdir(tmp_path) == []


def test_the_remainder_and_explicit_runs():
    # 7 threads over 3 sharing runs: 3, 2, 2, the lowest pid first
    assert [share(7, pid, [Run(p) for p in (1, 2, 3) if p != pid]) for pid in (1, 2, 3)] == [
        3,
        2,
        2,
    ]
    # a run with --threads 6 keeps them: the two sharing runs split the rest
    assert share(8, 10, [Run(5, threads=6), Run(7)]) == 1
    assert share(8, 10, [Run(5, threads=4), Run(7)]) == 2
    assert share(2, 10, [Run(5, threads=16)]) == 1  # never below one


def test_a_run_shrinks_when_others_start_and_grows_when_they_end(tmp_path):
    with budget(tmp_path, capacity=4) as b:
        assert b.threads == 4
        runs = fake_runs(tmp_path, 3)
        assert b.refresh() == 1
        runs.pop().close()
        assert b.refresh() == 2  # 4 over 3: this run has the lowest pid, it gets the extra
        assert b.refresh() == 2
        for r in runs:
            r.close()
        assert b.refresh() == 4
        assert b._apply.calls == [4, 1, 2, 4]  # set only when it changes
    assert b._apply.calls[-1] == 8  # the count found at the start comes back


def test_dead_runs_are_ignored_and_their_files_removed(tmp_path):
    (tmp_path / "4000099").write_text("auto")  # left by a run that ended without cleanup
    (tmp_path / "notes.txt").write_text("not a registration")
    # a real process that registers and dies without unregistering (like a kill -9)
    code = f"from ratescope.core.threads import Registry; Registry({str(tmp_path)!r}).register()"
    code += "; import os; print(os.getpid(), flush=True); os._exit(0)"
    dead = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (tmp_path / dead.stdout.strip()).exists()
    live = fake_runs(tmp_path, 1)
    with budget(tmp_path, capacity=4) as b:
        assert (b.threads, b.runs) == (2, 2)  # only the live fake counts
    assert sorted(os.listdir(tmp_path)) == [str(FAKE_PIDS[0]), "notes.txt"]
    live[0].close()


def test_another_process_is_seen_while_it_runs(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        from ratescope.core.threads import Registry
        Registry({str(tmp_path)!r}).register(3)
        print(os.getpid(), flush=True)
        sys.stdin.read()
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        pid = int(p.stdout.readline())
        with Registry(tmp_path) as mine:
            mine.register()
            assert mine.others() == [Run(pid, 3)]
            p.stdin.close()
            p.wait(30)
            assert mine.others() == []
        assert os.listdir(tmp_path) == []
    finally:
        p.kill()
        p.wait()


def test_the_load_average_decides_without_a_usable_folder(tmp_path):
    assert threads.share_from_load(2, load=4.0, own=1) == 1  # four busy single-thread runs
    assert threads.share_from_load(2, load=0.3) == 2
    assert threads.share_from_load(8, load=3.0) == 5
    assert threads.share_from_load(8, load=9.0, own=8) == 7
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    env = {RUNTIME_ENV: str(not_a_folder / "x")}
    with ThreadBudget(env=env, capacity=4, apply=Applied(), loadavg=lambda: 3.2) as b:
        assert (b.threads, b.source, b.registry) == (1, "load", None)
        assert "load average 3.2" in b.note()
    with ThreadBudget(env=env, capacity=4, apply=Applied(), loadavg=lambda: None) as b:
        assert b.threads == 4  # no load average (Windows): all of it


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_open_to_other_users_is_not_trusted(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(OSError, match="writable by other users"):
        threads.runtime_dir({RUNTIME_ENV: str(folder)})
    assert threads.runtime_dir({RUNTIME_ENV: str(tmp_path / "own")}).stat().st_mode & 0o777 == 0o700


def test_the_computing_commands_have_the_option():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in ("predict", "explain", "align", "volume"):
        assert "--threads N" in commands[name].format_help()
        assert commands[name].get_default("share_threads") is True
    assert parser.parse_args(["predict", "--threads", "2", "f"]).threads == 2
    assert parser.parse_args(["align", "f"]).threads is None
    for name in ("bench", "info"):  # bench's suites use every core themselves
        assert "--threads" not in commands[name].format_help()
    assert "default: all cores" in commands["train"].format_help()  # its own option kept
    assert not commands["train"].get_default("share_threads")


def test_predict_re_evaluates_before_each_file(tmp_path, monkeypatch, capsys):
    from test_predict import make_ensemble

    from ratescope.core.synth.mosaic import generate_mosaic

    models = tmp_path / "models"
    models.mkdir()
    make_ensemble(models, k=1)
    files = []
    for seed in (21, 22):
        files.append(tmp_path / f"e{seed}.tif")
        tifffile.imwrite(files[-1], generate_mosaic(seed, porosity=0.3, width=1500).image)
    folder = tmp_path / "runs"
    monkeypatch.setenv(RUNTIME_ENV, str(folder))
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr("ratescope.core.threads._DEFAULT_THREADS", 2)
    before = torch.get_num_threads()
    folder.mkdir(mode=0o700)
    other = fake_runs(folder, 1)
    import ratescope.cli.predict as predict

    finished = predict.records

    def records(file, prediction, used=None, cards=None):  # the other run ends after one
        other[0].close()
        return finished(file, prediction, used, cards)

    monkeypatch.setattr("ratescope.cli.predict.records", records)
    args = ["predict", *map(str, files), "--models", str(models), "--json", "-"]
    assert main(args) == 0
    cap = capsys.readouterr()
    assert "2 RateScope runs share the cores: this one uses 1 of 2 threads" in cap.err
    used = [r["threads"] for r in json.loads(cap.out)]
    assert used == [1, 1, 2, 2]  # two records (units) per file
    assert torch.get_num_threads() == before  # given back to the caller
    assert os.listdir(folder) == []


def test_predict_with_one_thread_in_a_real_process(tmp_path):
    env = {**os.environ, RUNTIME_ENV: str(tmp_path), ENV: "2"}  # the option wins
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "predict", "--threads", "1", "--json", "-",
         str(SAMPLE_MOSAIC)],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert [r["unit"] for r in records] == ["specific", "volumetric"]
    assert all(r["threads"] == 1 for r in records)
    assert "share the cores" not in out.stderr
    assert os.listdir(tmp_path) == []  # unregistered at exit
