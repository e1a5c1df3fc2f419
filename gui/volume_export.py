"""Export actions of the 3D workspace: the reconstruction (HDF5/TIFF) and the latents (CSV).

Both write the whole volume off the GUI thread through the workspace's runner, atomically
(the writers are :mod:`core.volume.export`); the file name is asked through the workspace's
``questions``.
"""

from __future__ import annotations

from pathlib import Path

from ratescope.core.volume.export import write_latents_csv, write_reconstruction


class ExportActions:
    """Mixin for :class:`gui.volume_workspace.VolumeWorkspace` (uses its ``volume``,
    ``questions``, ``runner``, ``info``, ``slice_label`` and ``_job_failed``)."""

    def _save_name(self, title: str, suffix: str, filters: str) -> Path | None:
        src = self.volume.source.path
        name = self.questions.save_name(self, title, str(src.parent / (src.stem + suffix)), filters)
        if not name:
            return None
        out = Path(name)
        return out if out.suffix else out.with_suffix(Path(suffix).suffix)

    def _export(self, job, out: Path | None) -> None:
        if out is not None:
            self.runner.start(
                job,
                self.volume.cache,
                out,
                message=f"Writing {out.name}…",
                on_done=self._written,
                on_error=lambda e: self._job_failed("Export", e),
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
        self.info.setToolTip(f"Wrote {path}")
        self.slice_label.setText(self.slice_label.text().split("\n")[0] + f"\nwrote {path.name}")
