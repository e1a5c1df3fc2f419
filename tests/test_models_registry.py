"""The model registry (core.models.registry) and ``main.py models``: user models, the
active one, and model packages that round-trip while tampered ones are refused."""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import shutil
import zipfile

import pytest
import torch

from ratescope.cli import models as models_cli
from ratescope.core.errors import RateScopeError
from ratescope.core.models.registry import Registry, describe, user_models_root
from ratescope.core.models.store import load_model
from ratescope.core.resources import MODELS


@pytest.fixture
def trained(tmp_path):
    """A trained-output-like folder: two real fold models (copied from the embedded ones,
    written by core.models.store) and a card.json as ``main.py train`` writes it."""
    out = tmp_path / "run"
    out.mkdir()
    for i in range(2):
        shutil.copy(MODELS / f"specific_fold{i}.safetensors", out)
    card = {"name": "Lab A", "units": {"specific": {"folds": 2, "held_out": {
        "mape": 4.2, "embedded_mape": 11.7, "electrodes": 12}}}}  # fmt: skip
    (out / "card.json").write_text(json.dumps(card))
    return out


@pytest.fixture
def reg(tmp_path, monkeypatch):
    root = tmp_path / "models"
    monkeypatch.setenv("RATESCOPE_MODELS_DIR", str(root))
    return Registry()


def _cli(*argv):
    p = argparse.ArgumentParser()
    models_cli.add_arguments(p)
    return models_cli.run(p.parse_args(list(argv)))


def test_root_follows_env_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("RATESCOPE_MODELS_DIR", str(tmp_path / "a"))
    assert user_models_root() == tmp_path / "a"
    monkeypatch.delenv("RATESCOPE_MODELS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert user_models_root() == tmp_path / "x" / "ratescope" / "models"


def test_add_activate_delete(reg, trained):
    assert [e.id for e in reg.entries()] == ["embedded"] and reg.active().embedded
    e = reg.add(trained, "Lab A, 12 electrodes")
    assert e.units == ["specific"] and not e.embedded and e.card["units"]["specific"]["folds"] == 2
    assert [x.id for x in reg.entries()] == ["embedded", e.id]  # embedded first
    reg.activate(e.id)
    assert Registry(reg.root).active().id == e.id  # persisted in active.json
    assert describe(e.path).startswith("Lab A, 12 electrodes (user model")
    assert describe(MODELS) == reg.embedded().name
    with pytest.raises(RateScopeError, match="cannot be deleted"):
        reg.delete("embedded")
    reg.delete(e.id)
    assert not e.path.exists() and reg.active().embedded
    with pytest.raises(RateScopeError, match="no model"):
        reg.get(e.id)


def test_package_round_trips_weights_and_card(reg, trained, tmp_path):
    e = reg.add(trained, "Lab A")
    pkg = reg.export(e.id, tmp_path / "lab-a.rsmodel")
    other = Registry(tmp_path / "elsewhere")
    back = other.import_package(pkg)
    assert back.name == "Lab A" and back.card["units"] == e.card["units"]
    for i in range(2):
        a = load_model(e.path / f"specific_fold{i}.safetensors")
        b = load_model(back.path / f"specific_fold{i}.safetensors")
        assert a[1] == b[1]  # the fold's own card
        sa, sb = a[0].state_dict(), b[0].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)


def _rewrite(src, dst, change):
    """Copy package ``src`` to ``dst`` with ``change(name, data) -> [(name, data), ...]``."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for info in z.infolist():
            for name, data in change(info.filename, z.read(info.filename)):
                out.writestr(name, data)
    return dst


def _manifest_fixed(data_by_name):
    """A manifest whose hashes agree with the (tampered) members: only the file checks
    can refuse such a package."""
    files = {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
             for n, d in data_by_name.items() if n != "manifest.json"}  # fmt: skip
    return json.dumps({"format": "ratescope.model-package/1", "files": files}).encode()


def test_tampered_packages_are_refused_with_a_reason(reg, trained, tmp_path):
    e = reg.add(trained, "Lab A")
    pkg = reg.export(e.id, tmp_path / "ok.rsmodel")
    other = Registry(tmp_path / "elsewhere")

    def flip(name, data):  # one flipped byte in a safetensors member
        if name == "specific_fold0.safetensors":
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01
            data = bytes(data)
        return [(name, data)]

    def edit_card(name, data):
        if name == "card.json":
            card = json.loads(data)
            card["units"]["specific"]["held_out"]["mape"] = 0.5  # a better figure
            data = json.dumps(card).encode()
        return [(name, data)]

    def slip(name, data):
        return [("../" + name if name.endswith("fold1.safetensors") else name, data)]

    cases = {
        "flipped.rsmodel": (flip, "specific_fold0.safetensors does not match its SHA-256"),
        "card.rsmodel": (edit_card, "card.json does not match its SHA-256"),
        "slip.rsmodel": (slip, "has a folder or path in its name"),
    }
    for fname, (change, reason) in cases.items():
        bad = _rewrite(pkg, tmp_path / fname, change)
        with pytest.raises(RateScopeError) as exc:
            other.import_package(bad)
        assert str(exc.value).startswith(f"{fname}: refused: ") and reason in str(exc.value)

    # pickle inside, the manifest recomputed to match: the file itself is refused, unread
    with zipfile.ZipFile(pkg) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["specific_fold1.safetensors"] = pickle.dumps({"weights": [1, 2, 3]})
    members["manifest.json"] = _manifest_fixed(members)
    bad = tmp_path / "pickle.rsmodel"
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(RateScopeError, match="specific_fold1.safetensors: refused: the file is a "
                       "Python pickle"):  # fmt: skip
        other.import_package(bad)
    # an extra member (e.g. code) is refused by name
    extra = _rewrite(
        pkg,
        tmp_path / "extra.rsmodel",
        lambda n, d: [(n, d)] + ([("run.py", b"x")] if n == "card.json" else []),
    )
    with pytest.raises(RateScopeError, match="unexpected member 'run.py'"):
        other.import_package(extra)
    assert [x.id for x in other.entries()] == ["embedded"]  # nothing half-imported


def test_models_cli_list_export_import_activate_delete(reg, trained, tmp_path, capsys):
    assert _cli("add", str(trained), "--name", "Lab A") == 0
    (entry,) = reg.entries()[1:]
    assert _cli("export", entry.id, str(tmp_path / "a.rsmodel")) == 0
    assert _cli("delete", entry.id) == 0
    assert _cli("import", str(tmp_path / "a.rsmodel")) == 0
    (entry,) = reg.entries()[1:]
    assert _cli("activate", entry.id) == 0
    capsys.readouterr()
    assert _cli("list") == 0
    out = capsys.readouterr().out
    assert f"* {entry.id}" in out and "specific 4.20 % (embedded 11.70 %)" in out
    assert _cli("activate", "nope") == 1
    assert "no model 'nope'" in capsys.readouterr().err
