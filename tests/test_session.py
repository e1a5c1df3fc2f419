"""Sessions: HDF5 round trip, atomic writes, source file checks."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from test_report_helpers import fake_prediction

import ratescope.core.session as session_mod
from ratescope.core.errors import RateScopeError
from ratescope.core.report import Explanation
from ratescope.core.resources import SAMPLE_MOSAIC
from ratescope.core.session import Session, check_source, load_session, save_session, source_facts


@pytest.fixture(scope="module")
def alignment():
    from ratescope.core.align import align
    from ratescope.core.io import load_mosaic

    a = align(load_mosaic(SAMPLE_MOSAIC).image)
    a.tiles[1].override = False
    a.tiles[2].override = True
    return a


def make_session(src, alignment) -> Session:
    rng = np.random.default_rng(1)
    maps = [Explanation("occlusion", "volumetric", 5.0, 3, rng.normal(size=(32, 96)).astype("f4")),
            Explanation("gradram", "specific", 0.2, 0, rng.normal(size=(224, 672)).astype("f4"),
                        rng.integers(0, 255, (224, 672, 3), dtype=np.uint8))]  # fmt: skip
    measured = {"specific": np.array([150.0, 140.0, np.nan, 118.0, 86.0])}
    return Session(**source_facts(src), source_format="CZI", pixel_size_um=0.123, scene=None,
                   alignment=alignment, prediction=fake_prediction(), maps=maps,
                   measured=measured)  # fmt: skip


def test_round_trip_restores_everything(tmp_path, alignment):
    src = tmp_path / "m.czi"
    shutil.copy(SAMPLE_MOSAIC, src)
    s = make_session(src, alignment)
    out = save_session(s, tmp_path / "work.ratescope")
    with h5py.File(out) as f:
        assert {"source", "alignment", "tiles", "prediction", "maps", "measured"} <= set(f)
        assert f.attrs["format"] == "ratescope-session"
    b = load_session(out)
    assert b.source_path == src.resolve() and b.source_sha256 == s.source_sha256
    assert (b.source_size, b.source_format, b.pixel_size_um, b.scene) == (
        src.stat().st_size, "CZI", 0.123, None)  # fmt: skip
    assert b.alignment.to_dict() == alignment.to_dict()
    assert [t.override for t in b.alignment.tiles[:3]] == [None, False, True]
    for unit, up in s.prediction.units.items():
        got = b.prediction.units[unit]
        assert got.to_dict() == up.to_dict()
    assert b.prediction.complete and not b.prediction.ood
    assert len(b.maps) == 2 and b.maps[0].tile_image is None
    for x, y in zip(s.maps, b.maps, strict=True):
        assert (x.method, x.unit, x.c_rate, x.tile) == (y.method, y.unit, y.c_rate, y.tile)
        assert np.array_equal(x.map, y.map)
    assert np.array_equal(b.maps[1].tile_image, s.maps[1].tile_image)
    assert np.array_equal(b.measured["specific"], s.measured["specific"], equal_nan=True)
    assert check_source(b).ok and b.saved


def test_empty_session_round_trip(tmp_path):
    b = load_session(save_session(Session(), tmp_path / "e.ratescope"))
    assert b.alignment is None and b.prediction is None and b.maps == [] and b.measured == {}
    assert check_source(b).status == "missing"


def test_interrupted_write_keeps_previous_file(tmp_path, alignment, monkeypatch):
    src = tmp_path / "m.czi"
    shutil.copy(SAMPLE_MOSAIC, src)
    target = tmp_path / "work.ratescope"
    save_session(make_session(src, alignment), target)
    before = target.read_bytes()
    real = session_mod._write

    def crash(f, s):
        real(f, s)  # the whole file written ... then the machine "dies"
        raise OSError("disk full")

    monkeypatch.setattr(session_mod, "_write", crash)
    with pytest.raises(RateScopeError, match=r"work.ratescope: could not write .*disk full"):
        save_session(Session(), target)
    assert target.read_bytes() == before
    assert {p.name for p in tmp_path.iterdir()} == {"m.czi", "work.ratescope"}  # no leftovers
    assert load_session(target).prediction is not None


def test_changed_moved_and_missing_source(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"\x89PNG fake contents")
    s = Session(**source_facts(src))
    assert check_source(s).ok
    moved = tmp_path / "elsewhere.png"
    shutil.copy(src, moved)
    src.write_bytes(b"\x89PNG other contents")
    c = check_source(s)
    assert c.status == "changed" and "changed" in c.message
    assert check_source(s, moved).ok  # the user located the original contents
    src.unlink()
    assert check_source(s).status == "missing"


def test_not_a_session(tmp_path):
    bad = tmp_path / "x.ratescope"
    bad.write_bytes(b"nope")
    with pytest.raises(RateScopeError, match="damaged or unreadable"):
        load_session(bad)
    with h5py.File(tmp_path / "y.h5", "w") as f:
        f["a"] = 1
    with pytest.raises(RateScopeError, match="not a RateScope session"):
        load_session(tmp_path / "y.h5")
    with pytest.raises(RateScopeError, match="does not exist"):
        load_session(tmp_path / "none.ratescope")


def test_the_gui_knows_the_session_suffix_without_importing_core_session():
    from ratescope.core.session import SUFFIX
    from ratescope.gui.session.controller import SESSION_SUFFIX

    assert SESSION_SUFFIX == SUFFIX


def test_damaged_sessions_raise_only_our_error(tmp_path, alignment):
    """Wrong JSON inside, a huge declared map, flipped bytes: a plain RateScopeError."""
    import h5py

    src = tmp_path / "m.czi"
    shutil.copy(SAMPLE_MOSAIC, src)
    good = tmp_path / "good.ratescope"
    save_session(make_session(src, alignment), good)

    wrong_json = tmp_path / "json.ratescope"
    shutil.copy(good, wrong_json)
    with h5py.File(wrong_json, "r+") as f:
        f["alignment"].attrs["json"] = "[]"
    with pytest.raises(RateScopeError, match="json.ratescope: the session file is damaged"):
        load_session(wrong_json)

    huge = tmp_path / "huge.ratescope"
    shutil.copy(good, huge)
    with h5py.File(huge, "r+") as f:  # 6 GB declared, a few kB on disk
        f.create_dataset("maps/9/map", shape=(40000, 40000), dtype="f4", chunks=(256, 256),
                         compression="gzip")  # fmt: skip
    assert huge.stat().st_size < 5e6
    with pytest.raises(RateScopeError, match=r"declares 6\.0 GiB of arrays"):
        load_session(huge)

    flipped = tmp_path / "flipped.ratescope"
    data = bytearray(good.read_bytes())
    for i in range(2048, len(data), 997):
        data[i] ^= 0xFF
    flipped.write_bytes(bytes(data))
    with pytest.raises(RateScopeError, match="flipped.ratescope"):
        load_session(flipped)
