"""Sessions: save, open, autosave and recovery (HDF5 via ratescope.core.session)."""
