"""Alarms: what raises them, what runs them live, and how they read.

- `engine`: the alarm engine, sans-I/O and deterministic — readings, events and clock ticks in, episodes
  out, by the rules of docs/limits.md. `vigil check` (`evaluate`) and the live path use the same class.
- `checkpoints`: the session timeline's overdue NIBP checkpoints as technical alarms, in the engine's shape.
- `live`: both run after each committed batch and on clock ticks, with limits, session type and events
  entered on screen read from the store; the only module here that uses the store.
- `text`, `table`: how an episode reads on the banner and in the record, and `vigil check`'s table.

The rise baseline the engine compares against is `monitor.session.baseline`'s, the one the Session tab shows.
"""
