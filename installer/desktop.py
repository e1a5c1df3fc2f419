#!/usr/bin/env python3
"""Register RateScope with the Linux desktop for the current user (no root needed).

    python3 installer/desktop.py install     # menu entry, icon, file associations
    python3 installer/desktop.py install --exe dist/RateScope/RateScope   # the bundle
    python3 installer/desktop.py uninstall   # remove them again

Without ``--exe`` the entry starts ``.venv/bin/python main.py`` of this checkout; with it,
the given program (the PyInstaller bundle of ``installer/build_bundle.py``). Files go under
``$XDG_DATA_HOME`` (default ``~/.local/share``): ``applications/``,
``icons/hicolor/256x256/apps/`` and ``mime/packages/``. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "org.ratescope.RateScope"
ICON = ROOT / "resources" / "icons" / "ratescope.png"
WM_CLASS = "RateScope"  # Qt's X11 window class is the application name (gui/app.py)

# MIME types RateScope opens; the first three are not in shared-mime-info, so we define them.
OWN_MIME_TYPES = {
    "application/x-zeiss-czi": ("ZEISS CZI image", "*.czi"),
    "application/x-zeiss-zvi": ("ZEISS AxioVision ZVI image", "*.zvi"),
    "application/x-ratescope-session": ("RateScope session", "*.ratescope"),
}
MIME_TYPES = [*OWN_MIME_TYPES, "image/tiff", "image/png", "image/jpeg"]


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def desktop_entry(*command: Path) -> str:
    """The text of the .desktop file for an app started by ``command`` (+ the file)."""
    exec_line = " ".join(f'"{c}"' for c in command)
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",
            "Name=RateScope",
            "GenericName=Electrode rate-capability predictor",
            "Comment=Predict the rate capability of battery electrodes from micrographs",
            f"Exec={exec_line} %f",
            f"Icon={APP_ID}",
            "Terminal=false",
            "Categories=Science;Physics;DataVisualization;",
            "Keywords=battery;electrode;microscopy;CZI;tomography;",
            f"MimeType={';'.join(MIME_TYPES)};",
            f"StartupWMClass={WM_CLASS}",
            "",
        ]
    )


def mime_package() -> str:
    """shared-mime-info XML declaring RateScope's own file types."""
    types = "".join(
        f'  <mime-type type="{t}">\n    <comment>{c}</comment>\n    <glob pattern="{g}"/>\n'
        "  </mime-type>\n"
        for t, (c, g) in OWN_MIME_TYPES.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">\n'
        f"{types}</mime-info>\n"
    )


def paths(base: Path) -> dict[str, Path]:
    return {
        "desktop": base / "applications" / f"{APP_ID}.desktop",
        "icon": base / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png",
        "mime": base / "mime" / "packages" / f"{APP_ID}.xml",
    }


def _refresh(base: Path) -> None:
    """Update the desktop databases if their tools exist (they are optional)."""
    for tool, arg in [
        ("update-desktop-database", base / "applications"),
        ("update-mime-database", base / "mime"),
    ]:
        if shutil.which(tool):
            subprocess.run([tool, str(arg)], check=False, capture_output=True)


def install(python: Path | None = None, exe: Path | None = None) -> dict[str, Path]:
    """Write the entry, icon and MIME package; return where they went.

    The entry starts ``exe`` when given (a bundled RateScope), else ``python main.py``.
    """
    base = data_home()
    if exe is not None:
        exe = Path(exe).resolve()
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise SystemExit(f"{exe}: not an executable (build it: installer/build_bundle.py)")
        command = (exe,)
    else:
        command = (python or ROOT / ".venv" / "bin" / "python", ROOT / "main.py")
    out = paths(base)
    for p in out.values():
        p.parent.mkdir(parents=True, exist_ok=True)
    out["desktop"].write_text(desktop_entry(*command))
    shutil.copyfile(ICON, out["icon"])
    out["mime"].write_text(mime_package())
    _refresh(base)
    return out


def uninstall() -> list[Path]:
    """Remove what :func:`install` wrote; return the files removed."""
    base = data_home()
    removed = [p for p in paths(base).values() if p.exists()]
    for p in removed:
        p.unlink()
    _refresh(base)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["install", "uninstall"])
    parser.add_argument("--exe", type=Path, help="start this program (the bundle) instead")
    args = parser.parse_args(argv)
    if args.action == "install":
        for kind, p in install(exe=args.exe).items():
            print(f"installed {kind}: {p}")
    else:
        for p in uninstall():
            print(f"removed {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
