"""Write readings and events as the canonical wide recorded-session CSV (docs/csv-format.md).

One row per time point, blank where a vital was not measured; an event rides on the first row of
its time point, and further events at the same instant get rows of their own. What this writes,
`adapters.files.csv_reader.read_session_csv` reads back to the same readings and events.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from adapters.files.atomic_file import replacing
from adapters.model.reading import EVENT_KINDS, Event, Reading
from adapters.model.vitals import VITAL_CODES

WIDE_COLUMNS: tuple[str, ...] = ("time", "sbp", "dbp", "map", "hr", "spo2", "pr", "rr", "event")


def format_time(t: datetime) -> str:
    """ISO 8601 in UTC with a `Z`; fractions of a second only when present, to the microsecond if need be
    (a time entered on screen has microseconds; written shorter, it would not read back the same)."""
    utc = t.astimezone(UTC)
    spec = "seconds" if not utc.microsecond else "milliseconds" if not utc.microsecond % 1000 else "microseconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def format_seconds(t: datetime) -> str:
    """Seconds since 1970-01-01T00:00:00Z, exact to the microsecond: how a relative-time session's times are
    written (docs/csv-format.md places plain numbers on that epoch when no --start is given)."""
    us = (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    whole, fraction = divmod(us, 1_000_000)
    return f"{whole}.{fraction:06d}".rstrip("0").rstrip(".") if fraction else str(whole)


def format_value(value: float) -> str:
    """Shortest faithful text: 72 not 72.0, 97.5 as is."""
    return f"{value:.10g}"


def event_marker(event: Event) -> str:
    """The CSV marker of an event. Kinds the format has no marker for (a serial link's `link_lost`, …)
    become notes that keep the kind and the text, rather than a bare word the reader cannot place."""
    if event.kind == "note":
        return f"note: {event.text}"
    if event.kind in EVENT_KINDS:
        return event.kind
    return f"note: {event.kind.replace('_', ' ')}" + (f": {event.text}" if event.text else "")


def wide_rows(readings: Iterable[Reading], events: Iterable[Event],
              time_text: Callable[[datetime], str] = format_time) -> Iterator[list[str]]:
    """The data rows for these readings and events, in time order."""
    values: dict[datetime, dict[str, float]] = defaultdict(dict)
    markers: dict[datetime, list[str]] = defaultdict(list)
    for r in readings:
        values[r.time][r.vital] = r.value
    for e in events:
        markers[e.time].append(event_marker(e))
    for t in sorted(values.keys() | markers.keys()):
        row_values = values.get(t, {})
        for i, marker in enumerate(markers.get(t, []) or [""]):
            cells = {c: format_value(row_values[c]) for c in VITAL_CODES if i == 0 and c in row_values}
            yield [time_text(t), *(cells.get(c, "") for c in WIDE_COLUMNS[1:-1]), marker]


def csv_line(cells: Iterable[str]) -> str:
    """One CSV line, LF-terminated, with RFC 4180 quoting. Not `csv.writer`: it quotes a bare CR only when
    the CR is part of its line terminator, so a note holding one would split its row when read back."""
    return ",".join(_quoted(c) if _NEEDS_QUOTES.search(c) else c for c in cells) + "\n"


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


def write_wide_csv(out: IO[str], readings: Iterable[Reading], events: Iterable[Event], relative: bool = False) -> int:
    """Write rows to an open text stream; returns the number of data rows written. `relative`: times as
    seconds from 1970 (a relative-time session), not ISO."""
    out.write(csv_line(WIDE_COLUMNS))
    rows = 0
    for row in wide_rows(readings, events, format_seconds if relative else format_time):
        out.write(csv_line(row))
        rows += 1
    return rows


def write_session_csv(path: Path, readings: Iterable[Reading], events: Iterable[Event],
                      relative: bool = False) -> int:
    """Write a wide CSV file whole or not at all; returns the number of data rows."""
    with replacing(path, newline="", encoding="utf-8") as out:
        return write_wide_csv(out, readings, events, relative)
