"""The prediction step: models, curves with spread, measured values, model card."""
