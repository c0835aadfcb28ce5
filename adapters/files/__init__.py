"""Recorded sessions on disk: the CSV reader, writer and capture recorder, replay, and whole-file writes."""
