"""Alarms: the deterministic engine, checkpoint alarms, the live engine on the store, and their texts."""
