"""The treatment session: its type and timeline, baseline and BP gate, checkpoints, discharge guard.

Everything here is pure: session facts (readings, events, the session clock's "now") in, answers out.
The store keeps the facts, the live runners feed the checkpoint alarms, and the dashboard and the
report ask the same functions, so what a nurse sees, what alarms and what the chart says agree.
"""
