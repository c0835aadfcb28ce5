"""The recorded-session CSV reader as it was before pandas: row by row, the contract read literally.

Kept in the test tree only as the reference the package's vectorised reader (adapters/files/csv_reader.py) is
compared with on random files (tests/test_csv_reference.py): the same readings, events, warnings, bad lines
and reasons. Straightforward on purpose: one row at a time, one cell at a time.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TextIO, TypeVar

from adapters.files.csv_reader import (
    _ALIASES,
    CsvError,
    CsvProblem,
    RecordedSession,
    describe_bad_rows,
)
from adapters.model.reading import Event, Reading, parse_event_marker
from adapters.model.vitals import VITALS
from adapters.model.zones import parse_zone

_CANONICAL: dict[str, str] = {alias: name for name, aliases in _ALIASES.items() for alias in (name, *aliases)}
_WIDE_COLUMNS = frozenset({"time", "event", *VITALS})
_LONG_COLUMNS = frozenset({"time", "vital", "value", "source"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ASCII only: float() would also take "nan", "1_000" or Arabic-Indic digits, none of which a monitor writes.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)


class _Bad(ValueError):
    """One bad cell; its message becomes (part of) the row's reason."""


def _show(text: str) -> str:
    """Quote cell text for a one-line message, shortened so a runaway cell cannot flood it."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _normalise(name: str) -> str:
    """`Solar8000/NIBP Sys` → `nibp_sys`: case, device prefix and separators do not matter."""
    name = name.strip().lower().rpartition("/")[2].strip()
    return re.sub(r"[\s.\-]+", "_", name)


@dataclass
class _Layout:
    """Which cell holds what, worked out once from the header."""

    width: int
    columns: dict[str, int]
    warnings: list[str]

    @property
    def long(self) -> bool:
        return "vital" in self.columns


def _layout(header: list[str]) -> _Layout:
    names = [_normalise(h) for h in header]
    allowed = _LONG_COLUMNS if "vital" in names and "value" in names else _WIDE_COLUMNS
    columns: dict[str, int] = {}
    warnings: list[str] = []
    for index, (raw, name) in enumerate(zip(header, names, strict=True)):
        meaning = _CANONICAL.get(name, name)
        if meaning not in allowed:
            warnings.append(f"unknown column {_show(raw.strip())} ignored")
        elif meaning in columns:
            first = header[columns[meaning]].strip()
            raise CsvError(f"columns {_show(first)} and {_show(raw.strip())} both map to {meaning!r}")
        else:
            columns[meaning] = index
    if "time" not in columns:
        raise CsvError("no time column (expected 'time' or one of: " + ", ".join(_ALIASES["time"]) + ")")
    return _Layout(len(header), columns, warnings)


class _Clock:
    """Turns time cells into UTC instants and keeps them in order.

    The first recognisable time fixes the file's form (absolute or seconds from start), because a
    file that mixes them has no single time line.
    """

    def __init__(self, zone: tzinfo | None, origin: datetime) -> None:
        self.zone = zone
        self.origin = origin
        self.relative: bool | None = None
        self.previous: tuple[datetime, str, int] | None = None  # last good row: time, text, line

    def place(self, text: str) -> datetime:
        if not text:
            raise _Bad("time is empty")
        iso = _ISO.fullmatch(text)
        if iso is None and not _NUMBER.fullmatch(text):
            raise _Bad(f"time {_show(text)} is neither ISO 8601 nor seconds from start")
        relative = iso is None
        if self.relative is None:
            self.relative = relative
        elif relative != self.relative:
            found, used = ("seconds", "ISO times") if relative else ("an ISO time", "seconds")
            raise _Bad(f"time {_show(text)} is {found} but the file uses {used}")
        try:
            when = self._seconds(text) if iso is None else self._absolute(iso, text)
        except _Bad:
            raise
        except (OverflowError, ValueError):  # out-of-range dates, Feb 30, offset +25:00
            raise _Bad(f"time {_show(text)} is not a valid time") from None
        if self.previous is not None and when < self.previous[0]:
            _, before, line = self.previous
            raise _Bad(f"time {_show(text)} is earlier than {_show(before)} on line {line}")
        return when

    def _seconds(self, text: str) -> datetime:
        seconds = float(text)
        if not math.isfinite(seconds):
            raise OverflowError(text)
        return self.origin + timedelta(seconds=seconds)

    def _absolute(self, m: re.Match[str], text: str) -> datetime:
        year, month, day, hour, minute, second = (int(g or 0) for g in m.group(1, 2, 3, 4, 5, 6))
        micro = int((m[7] or "").ljust(6, "0")[:6])
        naive = datetime(year, month, day, hour, minute, second, micro)
        if m[8]:
            return naive.replace(tzinfo=UTC)
        if m[9]:
            offset = timedelta(hours=int(m[10]), minutes=int(m[11] or 0))
            return naive.replace(tzinfo=timezone(-offset if m[9] == "-" else offset)).astimezone(UTC)
        if self.zone is None:
            raise _Bad(f"time {_show(text)} has no UTC offset (name the zone with tz to read local times)")
        return self._local(naive, text)

    def _local(self, naive: datetime, text: str) -> datetime:
        """Place a local wall-clock time; in the repeated hour after a DST change, file order decides."""
        earlier, later = (naive.replace(tzinfo=self.zone, fold=f).astimezone(UTC) for f in (0, 1))
        if earlier.astimezone(self.zone).replace(tzinfo=None) != naive:
            raise _Bad(f"time {_show(text)} does not exist in {self.zone} (clock change)")
        if self.previous is not None and earlier < self.previous[0] <= later:
            return later
        return earlier


def _value(vital: str, text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise _Bad(f"{vital} value {_show(text)} is not a number")
    value = float(text)
    spec = VITALS[vital]
    if not math.isfinite(value):
        raise _Bad(f"{vital} value {_show(text)} is not finite")
    if not spec.plausible(value):
        limits = f"{spec.low:g} to {spec.high:g}"
        raise _Bad(f"{vital} value {_show(text)} is outside the plausible range {limits}")
    return value


def _records(text: str) -> Iterator[tuple[int, list[str] | str]]:
    """Yield (first physical line, cells), or (line, reason) where the csv module gives up on a record.

    csv's `line_num` counts physical lines read so far, so a record starts one after the previous
    record ended, however many quoted newlines either contained.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        line = reader.line_num + 1
        try:
            yield line, next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield line, str(err)


def _read_text(source: Path | str | TextIO) -> str:
    """The whole text, BOM removed; newlines untranslated so line counting sees what an editor sees."""
    try:
        if isinstance(source, str | Path):
            with open(source, encoding="utf-8-sig", newline="") as stream:
                return stream.read()
        return source.read().removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise CsvError(f"not UTF-8 text (byte {err.start}: {err.reason})") from None


def _zone(tz: str | None) -> tzinfo | None:
    if tz is None:
        return None
    try:
        return parse_zone(tz)
    except ValueError as exc:
        raise CsvError(str(exc)) from None


_T = TypeVar("_T")


class _Reader:
    """Turns data rows into the session; a row is kept only if every cell in it is good."""

    def __init__(self, layout: _Layout, clock: _Clock, source_name: str) -> None:
        self.layout = layout
        self.clock = clock
        self.source_name = source_name
        self.session = RecordedSession(warnings=list(layout.warnings))
        self.unknown: dict[str, int] = {}

    def row(self, line: int, cells: list[str]) -> list[str]:
        """Add one data row; returns its problems (nothing is added when there are any)."""
        problems: list[str] = []

        def attempt(parse: Callable[..., _T], *args: str) -> _T | None:
            try:
                return parse(*args)
            except _Bad as bad:
                problems.append(str(bad))
                return None

        cols = self.layout.columns
        if len(cells) > self.layout.width:
            problems.append(f"{len(cells)} cells but the header has {self.layout.width}")
        cells = [c.strip() for c in cells] + [""] * (self.layout.width - len(cells))
        time_text = cells[cols["time"]]
        when = attempt(self.clock.place, time_text)
        values: list[tuple[str, float | None]] = []
        marker, source, unknown = "", self.source_name, ""
        if self.layout.long:
            name, text = cells[cols["vital"]], cells[cols["value"]]
            source = cells[cols["source"]] if "source" in cols and cells[cols["source"]] else source
            meaning = _CANONICAL.get(_normalise(name))
            if meaning == "event":
                marker = text
            elif meaning in VITALS:
                if text:
                    values.append((meaning, attempt(_value, meaning, text)))
            elif name:
                unknown = name
            elif text:
                problems.append(f"value {_show(text)} has no vital")
        else:
            values = [(v, attempt(_value, v, cells[i])) for v, i in cols.items() if v in VITALS and cells[i]]
            marker = cells[cols["event"]] if "event" in cols else ""
        if problems:
            return problems
        assert when is not None  # no problems means the time parsed
        self.clock.previous = (when, time_text, line)
        session = self.session
        session.start = session.start or when
        session.readings += [Reading(when, v, x, source) for v, x in values if x is not None]
        if marker:
            session.events.append(Event(when, *parse_event_marker(marker), source=source))
        if unknown:
            self.unknown[unknown] = self.unknown.get(unknown, 0) + 1
        return []

    def finish(self) -> RecordedSession:
        for name, count in self.unknown.items():
            rows = "1 row" if count == 1 else f"{count} rows"
            self.session.warnings.append(f"unknown vital {_show(name)} ignored ({rows})")
        self.session.relative_time = bool(self.clock.relative)
        return self.session


def read_rows_reference(
    source: Path | str | TextIO,
    *,
    skip_bad_rows: bool = False,
    tz: str | None = None,
    start: datetime | None = None,
    source_name: str = "replay",
) -> RecordedSession:
    """Read a wide or long recorded-session CSV from a path or an open text stream.

    `tz` places naive timestamps (never guessed), `start` places relative seconds (default the
    Unix epoch, so outputs read as elapsed time). Raises CsvError when the file is refused.
    """
    zone = _zone(tz)
    if start is not None and start.utcoffset() is None:
        if zone is None:
            raise CsvError(f"start {start.isoformat()} has no UTC offset and no tz was given")
        start = start.replace(tzinfo=zone)
    records = _records(_read_text(source))
    reader: _Reader | None = None
    bad: list[CsvProblem] = []
    for line, cells in records:
        if isinstance(cells, str):
            if reader is None:
                raise CsvError(f"line {line}: {cells}", [CsvProblem(line, cells)])
            bad.append(CsvProblem(line, cells))
        elif not any(c.strip() for c in cells):
            continue  # blank lines (and rows of empty cells) carry nothing
        elif reader is None:
            reader = _Reader(_layout(cells), _Clock(zone, (start or _EPOCH).astimezone(UTC)), source_name)
        elif problems := reader.row(line, cells):
            bad.append(CsvProblem(line, ", ".join(problems)))  # "; " separates rows in messages
    if reader is None:
        raise CsvError("empty file: no header row")
    if bad and not skip_bad_rows:
        raise CsvError(describe_bad_rows(bad), bad)
    session = reader.finish()
    session.skipped = bad
    return session
