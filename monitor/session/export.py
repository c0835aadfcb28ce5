"""A stored session as the recorded-session CSV (docs/csv-format.md), so that it replays as it was.

Readings and events up to the session's end go out in the canonical wide form: the times (to the
microsecond; a relative-time session as seconds, so it replays as one), values, dose events and
notes come back from `vigil replay` exactly. Events the format has no marker for (a serial link's
`link_lost`) go out as notes that keep their kind and text. The wide form holds one value per
vital per time, so a session where two sources measured one vital at the same instant is refused
rather than silently losing one of them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from adapters.files.csv_writer import format_time, write_session_csv
from monitor.store import Store


class ExportError(ValueError):
    """The session cannot be written as a wide CSV without losing data."""


def export_session(store: Store, session_id: int, path: Path) -> tuple[int, int, int]:
    """Write the CSV whole or not at all; returns (rows, readings, events)."""
    info = store.sessions.info(session_id)
    readings = store.samples.readings(session_id, None, info.ended)
    events = [e for e in store.samples.events(session_id) if info.ended is None or e.time <= info.ended]
    clash = next((key for key, n in Counter((r.time, r.vital) for r in readings).items() if n > 1), None)
    if clash is not None:
        raise ExportError(f"two sources measured {clash[1]} at {format_time(clash[0])}; the CSV holds one value "
                          "per vital and time")
    rows = write_session_csv(path, readings, events, relative=info.relative_time)
    return rows, len(readings), len(events)
