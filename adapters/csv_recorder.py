"""Write a live capture to the recorded-session CSV as it arrives, in time order.

A monitor may report a reading with a time earlier than what it already sent (the GE NIBP is dated
when its values first appeared, a record or two before the cuff cycle ends), but a CSV's rows must
not go back in time (architecture §4). So rows wait `hold` seconds behind the newest time seen
before they are written; what a crash can lose is bounded by that window, and `close` writes the rest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TextIO

from adapters.csv_writer import WIDE_COLUMNS, csv_line, wide_rows
from adapters.reading import Event, Reading

DEFAULT_HOLD = timedelta(seconds=60)


class CsvRecorder:
    """Appends rows to an open text stream; counts what it wrote and what came too late to place."""

    def __init__(self, out: TextIO, hold: timedelta = DEFAULT_HOLD) -> None:
        self._out = out
        out.write(csv_line(WIDE_COLUMNS))
        self._hold = hold
        self._readings: list[Reading] = []
        self._events: list[Event] = []
        self._newest: datetime | None = None
        self._written_up_to: datetime | None = None
        self.rows = 0
        self.readings = 0
        self.too_late = 0  # older than rows already written: dropped, as the file cannot hold them

    def add(self, items: list[Reading | Event]) -> None:
        for item in items:
            if self._written_up_to is not None and item.time < self._written_up_to:
                self.too_late += 1
                continue
            if isinstance(item, Reading):
                self._readings.append(item)
            else:
                self._events.append(item)
            if self._newest is None or item.time > self._newest:
                self._newest = item.time
        if self._newest is not None:
            self._write_before(self._newest - self._hold)

    def close(self) -> None:
        """Write everything held; the stream stays open (the caller owns it)."""
        self._write_before(None)

    def _write_before(self, cutoff: datetime | None) -> None:
        def due(t: datetime) -> bool:
            return cutoff is None or t < cutoff

        readings = [r for r in self._readings if due(r.time)]
        events = [e for e in self._events if due(e.time)]
        if not readings and not events:
            return
        self._readings = [r for r in self._readings if not due(r.time)]
        self._events = [e for e in self._events if not due(e.time)]
        for row in wide_rows(readings, events):
            self._out.write(csv_line(row))
            self.rows += 1
        self.readings += len(readings)
        self._written_up_to = max(i.time for i in (*readings, *events))
        self._out.flush()
