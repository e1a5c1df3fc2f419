"""Exports of the 3D workspace: the reconstruction (HDF5/TIFF) and the latents (CSV).

Both write the whole volume off the GUI thread through the workspace's runner, atomically
(the writers are :mod:`ratescope.core.volume.export`); the file name is asked through the
workspace's ``questions``.
"""

from __future__ import annotations

from pathlib import Path

from ratescope.core.volume.export import write_latents_csv, write_reconstruction


class VolumeExporter:
    """The export actions of one workspace (reads its ``volume``, ``questions``, ``runner``;
    reports in its ``info`` and ``slice_label``, errors through its ``job_failed``)."""

    def __init__(self, workspace):  # the VolumeWorkspace (not imported: a cycle)
        self.ws = workspace

    def _save_name(self, title: str, suffix: str, filters: str) -> Path | None:
        src = self.ws.volume.source.path
        default = str(src.parent / (src.stem + suffix))
        name = self.ws.questions.save_name(self.ws, title, default, filters)
        if not name:
            return None
        out = Path(name)
        return out if out.suffix else out.with_suffix(Path(suffix).suffix)

    def _export(self, job, out: Path | None) -> None:
        if out is not None:
            self.ws.runner.start(
                job,
                self.ws.volume.cache,
                out,
                message=f"Writing {out.name}…",
                on_done=self._written,
                on_error=lambda e: self.ws.job_failed("Export", e),
            )

    def export_reconstruction(self) -> None:
        """Write the reconstruction of the whole volume (HDF5 or TIFF), off-thread."""
        filters = "HDF5 (*.h5 *.hdf5);;TIFF (*.tif *.tiff)"
        out = self._save_name("Export reconstruction", "_cae.h5", filters)
        self._export(write_reconstruction, out)

    def export_latents(self) -> None:
        """Write every window's latent features and MSE as CSV, off-thread."""
        out = self._save_name("Export latent features", "_latents.csv", "CSV (*.csv)")
        self._export(write_latents_csv, out)

    def _written(self, path: Path) -> None:
        self.ws.info.setToolTip(f"Wrote {path}")
        label = self.ws.slice_label
        label.setText(label.text().split("\n")[0] + f"\nwrote {path.name}")
