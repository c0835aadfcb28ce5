"""Alarm limits: the model with its validation, TOML loading and the bundled presets."""
