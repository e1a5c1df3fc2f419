"""``python main.py models list|add|import|export|activate|delete``: the model registry.

    python main.py models list                       # embedded + user models, * = active
    python main.py models add runs/mylab --name "Lab A"   # register a trained --out folder
    python main.py models export lab-a lab-a.rsmodel # one zip: safetensors + card + manifest
    python main.py models import lab-a.rsmodel       # validated; tampered packages refused
    python main.py models activate lab-a             # predictions use it (GUI and CLI)
    python main.py models delete lab-a

User models live in ``$RATESCOPE_MODELS_DIR`` (else ``$XDG_DATA_HOME/ratescope/models``,
else ``~/.local/share/ratescope/models``); see :mod:`core.models.registry`.
"""

from __future__ import annotations

import argparse

from ratescope.cli.common import fail, write_json
from ratescope.core.errors import RateScopeError

HELP = "list, add, import, export, activate or delete rate-capability models"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="list the models (* marks the active one)")
    ls.add_argument("--json", action="store_true", help="print the entries as JSON")
    add = sub.add_parser("add", help="register a trained output folder (main.py train --out)")
    add.add_argument("folder")
    add.add_argument("--name", help="model name (default: its card's or the folder's)")
    imp = sub.add_parser("import", help="import a model package (.rsmodel)")
    imp.add_argument("file")
    exp = sub.add_parser("export", help="write a model as one package file")
    exp.add_argument("id")
    exp.add_argument("file")
    act = sub.add_parser("activate", help="make a model the one predictions use")
    act.add_argument("id")
    rm = sub.add_parser("delete", help="delete a user model")
    rm.add_argument("id")


def _held_out(entry) -> str:
    parts = []
    for unit, u in (entry.card.get("units") or {}).items():
        h = u.get("held_out") or {}
        if isinstance(h.get("mape"), int | float):
            s = f"{unit} {h['mape']:.2f} %"
            if isinstance(h.get("embedded_mape"), int | float):
                s += f" (embedded {h['embedded_mape']:.2f} %)"
            parts.append(s)
    return "; ".join(parts) or "-"


def run(args: argparse.Namespace) -> int:
    from ratescope.core.models.registry import Registry

    reg = Registry()
    try:
        if args.action == "list":
            active = reg.active().id
            entries = reg.entries()
            if args.json:
                write_json([{"id": e.id, "name": e.name, "path": str(e.path),
                             "embedded": e.embedded, "units": e.units, "created": e.created,
                             "active": e.id == active, "card": e.card} for e in entries],
                           "-")  # fmt: skip
                return 0
            for e in entries:
                mark = "*" if e.id == active else " "
                print(f"{mark} {e.id:24} {e.name[:40]:40} {','.join(e.units):20} "
                      f"{e.created[:10]:10}  held-out MAPE: {_held_out(e)}")  # fmt: skip
            print(f"user models in {reg.root}")
        elif args.action == "add":
            e = reg.add(args.folder, args.name)
            print(f"added {e.id} ({e.name}); activate it with: main.py models activate {e.id}")
        elif args.action == "import":
            e = reg.import_package(args.file)
            print(f"imported {e.id} ({e.name}, {', '.join(e.units)})")
        elif args.action == "export":
            print(f"wrote {reg.export(args.id, args.file)}")
        elif args.action == "activate":
            e = reg.activate(args.id)
            print(f"active model: {e.id} ({e.name})")
        elif args.action == "delete":
            reg.delete(args.id)
            print(f"deleted {args.id}")
    except RateScopeError as exc:
        return fail(exc)
    return 0
