"""Model manager driven like a user: list the embedded and a user model with their cards,
activate (the window's predictions reload from it), export a package, delete, import it
back, and see tampered packages refused with their reason."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _gui_helpers import Ask, RecordingDialogs, shown_window
from PySide6 import QtCore

from ratescope.core.models.registry import Registry, describe
from ratescope.core.resources import MODELS

TIMEOUT_MS = 60_000


def write_user_run(folder: Path, k: int = 2, scale: float = 1.0) -> Path:
    """A real k-fold models folder (both units) as ``main.py train --out`` leaves it, with
    the lab's held-out MAPE and the embedded model's on the same electrodes in card.json."""
    import torch

    from ratescope.core.models.ratecnn import RateCNN
    from ratescope.core.models.store import save_model

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    mean = np.array([150.0, 138.0, 126.0, 115.0, 95.0]) * scale
    for unit, factor in (("specific", 1.0), ("volumetric", 2.6)):
        for f in range(k):
            m = RateCNN().eval()
            m.set_normalisation([0.5] * 3, [0.2] * 3, mean * factor, np.full(5, 3.0))
            card = {"unit": unit, "date": "2026-12-01",
                    "data": {"source": "lab mosaics", "split": "group-wise (by sample)",
                             "k": k, "samples": 6, "tiles": 60},
                    "metrics": {"test": {"mape": 3.0 + f, "r2": 0.9}}}  # fmt: skip
            save_model(folder / f"{unit}_fold{f}.safetensors", m, card)
    card = {
        "name": "from the run",
        "created": "2026-12-01 10:00:00",
        "training": {"init": "embedded", "mode": "head", "steps": 600, "device": "cpu"},
        "units": {
            u: {"data": {"source": "lab mosaics", "electrodes": 6, "tiles": 60},
                "split": f"{k}-fold by electrode", "folds": k,
                "held_out": {"mape": 3.5, "embedded_mape": 14.25, "electrodes": 6}}
            for u in ("specific", "volumetric")
        },
    }  # fmt: skip
    (folder / "card.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def user_root(tmp_path, monkeypatch):
    root = tmp_path / "user-models"
    monkeypatch.setenv("RATESCOPE_MODELS_DIR", str(root))
    return root


@pytest.fixture
def window(qtbot, tmp_path, user_root):
    yield from shown_window(qtbot, tmp_path, (1300, 850), timeout_ms=TIMEOUT_MS)


def wait_idle(qtbot, window):
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=TIMEOUT_MS)


def open_manager(qtbot, window):
    manager = window.models.open_manager()
    qtbot.waitUntil(lambda: len(manager.entries) > 0, timeout=TIMEOUT_MS)
    wait_idle(qtbot, window)
    return manager


def names(manager) -> list[str]:
    return [manager.table.item(r, 0).text().strip(" ●") for r in range(manager.table.rowCount())]


def test_manager_lists_activates_exports_deletes_imports(qtbot, window, tmp_path, user_root):
    entry = Registry().add(write_user_run(tmp_path / "run"), "Lab A, 6 electrodes")
    ctl = window.models
    ask = ctl.ask = Ask(save_path=str(tmp_path / "out" / "lab-a"), yes_no=True)
    (tmp_path / "out").mkdir()
    qtbot.waitUntil(lambda: window.prediction.ensemble is not None, timeout=TIMEOUT_MS)
    manager = open_manager(qtbot, window)

    # embedded first, marked active; the user model with its held-out figures
    assert names(manager) == [Registry().embedded().name, "Lab A, 6 electrodes"]
    assert manager.table.item(0, 0).text().startswith("●")
    assert manager.table.item(1, 1).text() == "user"
    assert "3.50 %" in manager.table.item(1, 4).text()
    assert manager.table.item(1, 4).text() == "Ah/kg 3.50 % (14.25 %); Ah/L 3.50 % (14.25 %)"
    assert not manager.delete_button.isEnabled()  # the embedded model is selected
    manager.select(entry.id)
    card = manager.card.toPlainText()
    assert "Lab A, 6 electrodes" in card and "6 electrodes, 60 tiles (lab mosaics)" in card
    assert "2-fold by electrode" in card
    assert "dense head fine-tuned from the embedded ensemble, 600 steps per fold on cpu" in card
    assert "3.50 % (this model, 6 held-out electrodes)" in card
    assert "14.25 % on the same electrodes" in card

    # Activate: persisted, the predictions reload from the user model
    with qtbot.waitSignal(window.prediction.models_loaded, timeout=TIMEOUT_MS) as loaded:
        qtbot.mouseClick(manager.activate_button, QtCore.Qt.MouseButton.LeftButton)
    assert loaded.args[0].models_dir == entry.path
    assert Registry().active().id == entry.id
    wait_idle(qtbot, window)
    assert manager.active_id == entry.id and manager.table.item(1, 0).text().startswith("●")
    assert not manager.activate_button.isEnabled()
    assert describe(window.prediction.models_dir).startswith("Lab A, 6 electrodes")

    # Export…: one package file
    qtbot.mouseClick(manager.export_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    package = tmp_path / "out" / "lab-a.rsmodel"
    assert package.is_file() and ask.count("save_path") == 1
    with zipfile.ZipFile(package) as z:
        assert sorted(z.namelist()) == sorted(
            ["manifest.json", "card.json"]
            + [f"{u}_fold{f}.safetensors" for u in ("specific", "volumetric") for f in (0, 1)]
        )
    assert "Exported to lab-a.rsmodel" in manager.status.text()

    # Delete… (asked): gone, the embedded model is active and loaded again
    with qtbot.waitSignal(window.prediction.models_loaded, timeout=TIMEOUT_MS):
        qtbot.mouseClick(manager.delete_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert ask.count("yes_no") == 1
    assert names(manager) == [Registry().embedded().name]
    assert not entry.path.exists() and window.prediction.models_dir == MODELS

    # Import…: the package comes back with its card
    ask.answers["open_path"] = str(package)
    qtbot.mouseClick(manager.import_button, QtCore.Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(manager.entries) == 2, timeout=TIMEOUT_MS)
    assert names(manager)[1] == "Lab A, 6 electrodes"
    assert manager.selected_entry().name == "Lab A, 6 electrodes"
    assert "14.25 % on the same electrodes" in manager.card.toPlainText()
    assert window.dialogs.errors == []


def tampered(package: Path, target: Path, how: str) -> Path:
    """A copy of ``package`` changed after export: ``card`` edits card.json (its hash no
    longer matches), ``slip`` adds a member with a path, ``pickle`` swaps a fold model for
    a pickle and fixes the manifest's hash so that only the format check can catch it."""
    import hashlib
    import pickle  # noqa: S403 - the hostile file under test, never loaded

    with zipfile.ZipFile(package) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if how == "card":
        card = json.loads(members["card.json"])
        card["units"]["specific"]["held_out"]["mape"] = 0.01
        members["card.json"] = json.dumps(card).encode()
    elif how == "slip":
        members["../evil.safetensors"] = b"x"
    elif how == "pickle":
        members["specific_fold0.safetensors"] = pickle.dumps({"weights": [1, 2, 3]})
        manifest = json.loads(members["manifest.json"])
        manifest["files"]["specific_fold0.safetensors"]["sha256"] = hashlib.sha256(
            members["specific_fold0.safetensors"]
        ).hexdigest()
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(target, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return target


def test_tampered_packages_are_refused_with_the_reason(qtbot, window, tmp_path, user_root):
    entry = Registry().add(write_user_run(tmp_path / "run"), "Lab B")
    package = Registry().export(entry.id, tmp_path / "lab-b.rsmodel")
    Registry().delete(entry.id)
    ctl = window.models
    manager = open_manager(qtbot, window)
    assert len(manager.entries) == 1
    expected = {
        "card": "card.json does not match its SHA-256",
        "slip": "has a folder or path in its name",
        "pickle": "a Python pickle",
    }
    for how, reason in expected.items():
        bad = tampered(package, tmp_path / f"{how}.rsmodel", how)
        ctl.ask = Ask(open_path=str(bad))
        window.dialogs.errors.clear()
        qtbot.mouseClick(manager.import_button, QtCore.Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(window.dialogs.errors), timeout=TIMEOUT_MS)
        title, text = window.dialogs.errors[-1]
        assert title == "Model refused"
        assert text.startswith(f"{how}.rsmodel: refused") and reason in text, text
        assert reason in manager.status.text()
        wait_idle(qtbot, window)
    ctl.refresh()
    wait_idle(qtbot, window)
    assert len(manager.entries) == 1  # nothing was added
    assert [p.name for p in user_root.iterdir() if not p.name.startswith(".")] == []


def test_active_user_model_is_used_at_start(qtbot, tmp_path, user_root):
    entry = Registry().add(write_user_run(tmp_path / "run"), "Lab C")
    Registry().activate(entry.id)
    for win in shown_window(qtbot, tmp_path, dialogs=RecordingDialogs()):
        qtbot.waitUntil(lambda w=win: w.prediction.ensemble is not None, timeout=TIMEOUT_MS)
        assert win.prediction.models_dir == entry.path
        assert win.prediction.ensemble.models_dir == entry.path
