"""The alignment step: detect, edit and accept the collector, surface and tiles."""
