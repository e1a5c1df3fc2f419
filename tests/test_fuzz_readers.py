"""Fuzzing the readers: damaged files raise RateScopeError, quickly and within a memory bound.

Small valid seed files of every format RateScope opens (a zstd tile CZI written with
pylibCZIrw, a strip TIFF, a tiled zlib TIFF, a tiled OME-TIFF, a PNG, a JPEG, a ZVI from
the tests' compound file writer and a ``.ratescope`` session) are mutated by Hypothesis:
bytes flipped, the file truncated, random chunks inserted, chunks of the file duplicated
elsewhere or deleted, and integers of 1, 2, 4 or 8 bytes (either byte order) replaced by
extreme values (0, -1, 2^15, 2^31, 2^63, IEEE inf and NaN ...), at offsets near the
start, near the end or anywhere. Each mutant is written to disk and opened as the
application opens it: ``load_mosaic(path).read(0, 64, 0, 64)`` (opening reads headers
only; the read makes the lazy readers decode pixels) or ``load_session(path)``.

The mutants are opened in one worker process (spawned once per run), because a reader can
hang or crash inside C code (libCZI, libhdf5, libjpeg ...) where no Python signal or
exception reaches it: the test then waits at most :data:`HANG_S`, kills the worker, keeps
the mutant under ``hangs/`` beside the seeds, and starts a fresh worker.

Per mutant:

- the only exception allowed is :class:`RateScopeError` (MultipleScenes is one), and its
  message names the file;
- time: opening and reading take at most :data:`DEADLINE_S` (measured in the worker);
  a Python-level loop is stopped there by ``SIGALRM`` with its traceback; a reader that
  does not answer within :data:`HANG_S` hung (or crashed) and fails the test;
- memory: the worker's ``tracemalloc`` peak stays under 512 MB. tracemalloc is reliable
  here: it sees every Python and numpy allocation (numpy reports its buffers to it,
  including those imagecodecs, tifffile and h5py return), it does not depend on what the
  allocator gives back to the OS (RSS does), and unlike an address-space rlimit it does
  not trip on the worker's own libraries. Allocations inside C libraries that never
  reach numpy (libCZI, libhdf5, libjpeg work buffers) are not seen; the readers' size
  checks bound those.

``derandomize=True`` makes each run try the same inputs (CI is reproducible) and no
example database is written. ``RATESCOPE_FUZZ_EXAMPLES`` sets the number of examples per
format (default 100; e.g. 2000 for a long run by hand). The inputs tried are counted; at
the end the counts are printed and written as JSON to ``fuzz_readers.json`` in pytest's
base temporary folder (or to ``RATESCOPE_FUZZ_REPORT``). Inputs the fuzzer found are kept
as plain tests below (:data:`FOUND`).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import struct
import time
import traceback
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _io_helpers import write_zvi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ratescope.core.errors import RateScopeError
from ratescope.core.io import load_mosaic
from ratescope.core.io.czi import write_czi_mosaic
from ratescope.core.session import Session, load_session, save_session

EXAMPLES = int(os.environ.get("RATESCOPE_FUZZ_EXAMPLES", "100"))
DEADLINE_S = 5.0
HARD_STOP_S = 15
"""The worker stops a Python-level loop after this long (SIGALRM, with its traceback)."""
HANG_S = 25.0
"""A worker that has not answered after this long hung in C code (or crashed)."""
PEAK_BYTES = 512 * 1024**2

EXTREMES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
            0x80000000, 0xFFFFFFFF, 2**32, 2**53, 2**63 - 1, 2**63, 2**64 - 1,
            0x7F800000, 0xFF800000, 0x7FC00000,  # float32 inf, -inf, NaN
            0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000,  # float64 inf, -inf, NaN
            0x7FEFFFFFFFFFFFFF)  # fmt: skip
"""Integers and IEEE bit patterns written over header fields (masked to the field's width,
so 2^64-1 is -1 in any width)."""

FORMATS = ("czi", "tiff", "tiff-tiled", "ome-tiff", "png", "jpeg", "zvi", "session")

COUNTS: Counter = Counter()
"""(format, outcome) -> inputs tried; outcome "read", "refused" or a failure: "unexpected",
"unnamed" (a message without the file name), "slow", "memory", "hung", "crashed"."""
WORST: dict[str, dict[str, float]] = {}
"""format -> the largest peak (MB) and the longest time (s) of one input."""


class HardStop(BaseException):
    """Raised by the alarm: a BaseException, so no reader can report it as its own error."""


# ----------------------------------------------------------------------------- seeds


def _seed_files(folder: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    gray = rng.integers(0, 255, (96, 160), dtype=np.uint8)
    rgb = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    paths = {fmt: folder / f"seed_{fmt}" for fmt in FORMATS}
    write_czi_mosaic(paths["czi"], gray, tile_shape=(64, 64), overlap=8)
    tifffile.imwrite(paths["tiff"], gray, rowsperstrip=16, resolution=(1e4 / 0.2, 1e4 / 0.2),
                     resolutionunit="CENTIMETER")  # fmt: skip
    tifffile.imwrite(paths["tiff-tiled"], rgb, tile=(32, 32), compression="zlib",
                     photometric="rgb")  # fmt: skip
    tifffile.imwrite(paths["ome-tiff"], rgb, tile=(32, 32), photometric="rgb", ome=True,
                     metadata={"PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25})  # fmt: skip
    Image.fromarray(rgb).save(paths["png"], format="PNG")
    Image.fromarray(rgb).save(paths["jpeg"], format="JPEG", quality=90)
    write_zvi(paths["zvi"], gray[:, :144], tile_shape=(64, 80), overlap=16)  # 4 tiles in the FAT
    save_session(_session(folder, gray), paths["session"])
    for fmt in ("czi", "tiff", "tiff-tiled", "ome-tiff", "png", "jpeg", "zvi"):
        load_mosaic(paths[fmt]).read(0, 64, 0, 64)  # every seed itself reads
    load_session(paths["session"])
    return {fmt: p.read_bytes() for fmt, p in paths.items()}


def _session(folder: Path, gray: np.ndarray) -> Session:
    """A session with every step: alignment and tiles, prediction, maps, measured values."""
    from test_report_helpers import fake_prediction

    from ratescope.core.align import align
    from ratescope.core.report import Explanation
    from ratescope.core.resources import SAMPLE_MOSAIC
    from ratescope.core.session import source_facts

    alignment = align(load_mosaic(SAMPLE_MOSAIC).read(0, 975, 0, 2000))
    alignment.tiles[0].override = False
    rng = np.random.default_rng(3)
    maps = [Explanation("occlusion", "volumetric", 5.0, 1, rng.normal(size=(8, 24)).astype("f4")),
            Explanation("gradram", "specific", 0.2, 0, rng.normal(size=(16, 48)).astype("f4"),
                        rng.integers(0, 255, (16, 48, 3), dtype=np.uint8))]  # fmt: skip
    source = folder / "source.png"
    Image.fromarray(gray).save(source)
    measured = {"specific": np.array([150.0, 140.0, np.nan, 118.0, 86.0])}
    return Session(**source_facts(source), source_format="PNG", pixel_size_um=0.123,
                   alignment=alignment, prediction=fake_prediction(), maps=maps,
                   measured=measured)  # fmt: skip


class Seeds(dict):
    """Seed bytes by format, kept in ``folder``; a short repr for Hypothesis' reports."""

    def __init__(self, folder: Path, files: dict[str, bytes]):
        super().__init__(files)
        self.folder = folder
        self.worker = Worker([(fmt, folder / f"seed_{fmt}") for fmt in files])

    def __repr__(self) -> str:
        return f"Seeds({', '.join(f'{k}: {len(v)} bytes' for k, v in self.items())})"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, pytestconfig):
    folder = tmp_path_factory.mktemp("fuzz_seeds")
    files = Seeds(folder, _seed_files(folder))
    yield files
    files.worker.close()
    report = Path(
        os.environ.get("RATESCOPE_FUZZ_REPORT")
        or tmp_path_factory.getbasetemp() / "fuzz_readers.json"
    )
    per_format = {fmt: {o: COUNTS[(f, o)] for (f, o) in COUNTS if f == fmt} for fmt in FORMATS}
    total = sum(COUNTS.values())
    failures = sum(n for (_, o), n in COUNTS.items() if o not in ("read", "refused"))
    report.write_text(json.dumps({"examples_per_format": EXAMPLES, "inputs": total,
                                  "failures": failures,
                                  "per_format": per_format,
                                  "worst": WORST, "kept": str(folder / "hangs")},
                                 indent=1))  # fmt: skip
    line = (f"fuzz_readers: {total} inputs, {failures} unexpected errors, hangs or overruns "
            f"({EXAMPLES} examples per format; counts in {report})")  # fmt: skip
    terminal = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if terminal is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
            terminal.write_line("\n" + line)


# ----------------------------------------------------------------------------- the worker


class Worker:
    """A spawned process that opens the mutants (:func:`_serve`); restarted after a hang.

    It first opens every seed, so that the imports a reader does on first use (the
    session loader's alignment and prediction modules take seconds) are not timed.
    """

    def __init__(self, warm_up: list[tuple[str, Path]]):
        self.warm_up = [(fmt, str(path)) for fmt, path in warm_up]
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.warm_up), daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(300) or self.conn.recv() != "ready":
            raise RuntimeError("the fuzzing worker did not start")

    def open(self, fmt: str, path: Path) -> tuple[str, str, float, float]:
        """(outcome, message, peak bytes, seconds) of opening ``path`` as ``fmt``."""
        self.conn.send((fmt, str(path)))
        if self.conn.poll(HANG_S):
            try:
                return self.conn.recv()
            except EOFError:  # the worker died: poll() saw the pipe close
                pass
        code = self.process.exitcode
        self.process.kill()
        self.process.join()
        self._start()
        if code is None:
            return "hung", f"no answer after {HANG_S:.0f} s", 0.0, HANG_S
        return "crashed", f"the worker died (exit code {code})", 0.0, 0.0

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _serve(conn, warm_up: list[tuple[str, str]]) -> None:
    """Worker loop: open each (format, path) received and send back how it went."""
    for name in ("tifffile", "olefile"):  # they log every damaged tag they skip
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for fmt, path in warm_up:
        _open(fmt, Path(path))
    tracemalloc.start()
    conn.send("ready")
    while (job := conn.recv()) is not None:
        conn.send(_measured_open(*job))


def _measured_open(fmt: str, path: str) -> tuple[str, str, float, float]:
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HARD_STOP_S)
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        _open(fmt, Path(path))
        outcome, message = "read", ""
    except RateScopeError as e:
        outcome, message = "refused", str(e)
    except BaseException:  # HardStop included: reported with its traceback
        outcome, message = "unexpected", traceback.format_exc()
    finally:
        signal.alarm(0)
    return outcome, message, tracemalloc.get_traced_memory()[1], time.perf_counter() - t0


def _open(fmt: str, path: Path) -> None:
    if fmt == "session":
        load_session(path)
    else:
        load_mosaic(path).read(0, 64, 0, 64)


def _alarm(_signum, _frame):
    raise HardStop(f"still running after {HARD_STOP_S} s")


# ----------------------------------------------------------------------------- mutations


def _offset(n: int) -> st.SearchStrategy[int]:
    """An offset into ``n`` bytes: near the start (headers), near the end (trailers,
    directories) or anywhere."""
    return st.one_of(
        st.integers(0, max(0, min(n, 1024) - 1)),
        st.integers(max(0, n - 2048), max(0, n - 1)),
        st.integers(0, max(0, n - 1)),
    )


def _mutation(n: int) -> st.SearchStrategy[tuple]:
    at = _offset(n)
    return st.one_of(
        st.tuples(st.just("flip"), at, st.integers(1, 255)),
        st.tuples(st.just("truncate"), at),
        st.tuples(st.just("insert"), at, st.binary(min_size=1, max_size=64)),
        st.tuples(st.just("duplicate"), at, at, st.integers(1, 4096)),
        st.tuples(st.just("delete"), at, st.integers(1, 4096)),
        st.tuples(
            st.just("integer"),
            at,
            st.sampled_from((1, 2, 4, 8)),
            st.sampled_from("<>"),
            st.sampled_from(EXTREMES),
        ),  # fmt: skip
    )


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    """Apply ``ops`` in turn; offsets wrap round the current length."""
    out = bytearray(data)
    for op in ops:
        kind, at = op[0], op[1] % max(1, len(out))
        if kind == "flip" and out:
            out[at] ^= op[2]
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = op[2]
        elif kind == "duplicate":
            src = op[2] % max(1, len(out))
            out[at:at] = out[src : src + op[3]]
        elif kind == "delete":
            del out[at : at + op[2]]
        elif kind == "integer":
            width, order, value = op[2], op[3], op[4]
            out[at : at + width] = (value % 256**width).to_bytes(
                width, "little" if order == "<" else "big"
            )
    return bytes(out)


def mutations(seed: bytes) -> st.SearchStrategy[list[tuple]]:
    """One to four mutations of ``seed`` (shown in a failure report: a readable reproducer)."""
    return st.lists(_mutation(len(seed)), min_size=1, max_size=4)


# ----------------------------------------------------------------------------- the test


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="the worker's time limit is POSIX")
@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          print_blob=True, suppress_health_check=[HealthCheck.too_slow,
                                                  HealthCheck.data_too_large])  # fmt: skip
@given(data=st.data())
def test_mutated_file_raises_only_our_error_quickly_and_small(seeds, fmt, data):
    ops = data.draw(mutations(seeds[fmt]), label="mutations")
    path = seeds.folder / f"mutant_{fmt}"
    path.write_bytes(mutate(seeds[fmt], ops))
    outcome, message, peak, elapsed = seeds.worker.open(fmt, path)
    if outcome == "refused" and path.name not in message:
        outcome = "unnamed"
    elif outcome in ("read", "refused") and elapsed > DEADLINE_S:
        outcome = "slow"
    elif outcome in ("read", "refused") and peak >= PEAK_BYTES:
        outcome = "memory"
    COUNTS[(fmt, outcome)] += 1
    worst = WORST.setdefault(fmt, {"peak_mb": 0.0, "seconds": 0.0})
    worst["peak_mb"] = max(worst["peak_mb"], round(peak / 1e6, 1))
    worst["seconds"] = max(worst["seconds"], round(elapsed, 3))
    if outcome in ("hung", "crashed"):
        kept = seeds.folder / "hangs" / f"{fmt}_{outcome}_{COUNTS[(fmt, outcome)]}"
        kept.parent.mkdir(exist_ok=True)
        shutil.copy(path, kept)
        raise AssertionError(f"{fmt}: the reader {outcome} ({message}); kept as {kept}")
    if outcome not in ("read", "refused"):
        raise AssertionError(
            f"{fmt}: {outcome} after {elapsed:.2f} s, peak {peak / 1e6:.0f} MB:\n{message}"
        )


# ----------------------------------------------------------------------------- found so far
# Inputs the fuzzer found that raised something other than RateScopeError, kept as plain
# tests so that they stay fixed whatever Hypothesis tries next.


def _tiff_entry(data: bytes, tag: int) -> int:
    """Offset of ``tag``'s 12-byte entry in the first IFD of a little-endian classic TIFF."""
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n,) = struct.unpack_from("<H", data, ifd)
    for i in range(n):
        if struct.unpack_from("<H", data, ifd + 2 + 12 * i)[0] == tag:
            return ifd + 2 + 12 * i
    raise KeyError(tag)


def _patched_tiff(seeds: Seeds, path: Path, tag: int, field: int, fmt: str, value: int) -> None:
    data = bytearray(seeds["tiff-tiled"])
    struct.pack_into(fmt, data, _tiff_entry(data, tag) + field, value)
    path.write_bytes(bytes(data))


def _session_attribute(seeds: Seeds, path: Path, name: str, value) -> None:
    import h5py

    path.write_bytes(seeds["session"])
    with h5py.File(path, "r+") as f:
        f["source"].attrs[name] = value


def _empty_heap_free_space(seeds: Seeds, path: Path) -> None:
    """The seed session with the free-space object of its first global heap collection
    given size 0, the same length as before: libhdf5 loops on it for ever."""
    data = bytearray(seeds["session"])
    at = data.find(b"GCOL")
    (size,) = struct.unpack_from("<Q", data, at + 8)
    p = 16
    while p + 16 <= size:
        index, _, _, nbytes = struct.unpack_from("<HHIQ", data, at + p)
        if index == 0:
            struct.pack_into("<Q", data, at + p + 8, 0)
            break
        p += 16 + -(-nbytes // 8) * 8
    else:
        raise AssertionError("the seed session has no free space in its global heap")
    path.write_bytes(bytes(data))


def _duplicated_in_czi_directory(seeds: Seeds, path: Path, offset: int, n: int) -> None:
    """The seed CZI with ``n`` bytes duplicated ``offset`` bytes into its subblock directory."""
    at = seeds["czi"].find(b"ZISRAWDIRECTORY") + offset
    path.write_bytes(mutate(seeds["czi"], [("duplicate", at, at, n)]))


FOUND = {
    # tifffile gives a tag of the wrong count or type as a tuple or text: int() raised
    "tiff-planarconfig-count-2": ("tiff", lambda s, p: _patched_tiff(s, p, 284, 4, "<I", 2),
                                  "planarconfig is (1, 0)"),
    "tiff-planarconfig-ascii": ("tiff", lambda s, p: _patched_tiff(s, p, 284, 2, "<H", 2),
                                "planarconfig is"),
    "tiff-tilewidth-count-2": ("tiff", lambda s, p: _patched_tiff(s, p, 322, 4, "<I", 2),
                               "damaged"),
    # a tile of 0 rows or columns: ZeroDivisionError in the lazy level
    "tiff-tilelength-0": ("tiff", lambda s, p: _patched_tiff(s, p, 323, 8, "<H", 0),
                          "tiles are 32 x 0 px"),
    "tiff-tilewidth-0": ("tiff", lambda s, p: _patched_tiff(s, p, 322, 8, "<H", 0), "damaged"),
    # a session whose scene is an infinite float: OverflowError from int()
    "session-scene-inf": ("session", lambda s, p: _session_attribute(s, p, "scene", np.inf),
                          "damaged or unreadable (OverflowError"),
    # libhdf5 never returned (a loop in C over a global heap collection), twice found as
    # 1205 bytes duplicated in place near the start, and the same heap damage in place
    "session-chunk-duplicated": (
        "session",
        lambda s, p: p.write_bytes(mutate(s["session"], [("duplicate", 1205, 1205, 1205)])),
        "bytes were inserted, removed or cut off"),
    "session-heap-free-space-0": ("session", _empty_heap_free_space, "global heap at byte"),
    # 238 bytes of the subblock directory duplicated in place (at byte 29543 of 29824):
    # pylibCZIrw counts 5898241 scenes and its ValueError escaped read_czi (fixed in
    # core/io/czi.py by 3980a60)
    "czi-scene-count": ("czi", lambda s, p: _duplicated_in_czi_directory(s, p, 935, 238),
                        "number of scenes"),
}  # fmt: skip


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="the worker's time limit is POSIX")
@pytest.mark.parametrize("case", sorted(FOUND))
def test_inputs_the_fuzzer_found_raise_our_error(seeds, case):
    """Opened by the worker as well: a regression to a hang fails after HANG_S, not never."""
    fmt, make, words = FOUND[case]
    path = seeds.folder / f"found_{case}"
    make(seeds, path)
    outcome, message, _, _ = seeds.worker.open(fmt, path)
    assert outcome == "refused", f"{outcome}: {message}"
    assert message.startswith(f"{path.name}: ") and words in message, message


def test_damaged_png_leaves_no_memory_behind(tmp_path):
    """imagecodecs leaks its output buffer on each PNG it fails to decode (the fuzzer's
    worker kept ~150 MB after 5000 PNG mutants); a flipped byte is now refused first."""
    rgb = np.random.default_rng(8).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    path = tmp_path / "flipped.png"
    Image.fromarray(rgb).save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55  # inside the image data
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            with pytest.raises(RateScopeError, match="flipped.png: the PNG file"):
                load_mosaic(path).read(0, 64, 0, 64)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 360_000, f"{kept / 1e6:.1f} MB kept after 10 refusals"  # one decode: 0.36 MB
