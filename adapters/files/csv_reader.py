"""Read the recorded-session CSV (docs/csv-format.md) into readings and events.

The format is a fixed contract: `vigil check` must give on a file exactly what live monitoring gave,
so the reader never guesses. A doubtful row is a bad row, and bad rows refuse the whole file unless
the caller asks to skip them. Every problem names its physical line so it can be found in an editor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from adapters.files.csv_cells import show as _show
from adapters.model.reading import Event, Reading
from adapters.model.vitals import VITALS
from adapters.model.zones import parse_zone

if TYPE_CHECKING:  # pandas loads when a file is read, not for every `vigil` command that names RecordedSession
    from adapters.files.csv_table import Records

_ALIASES: dict[str, tuple[str, ...]] = {
    "sbp": ("sys", "systolic", "nibp_sys", "nibp_sbp", "nbp_sys", "bp_sys"),
    "dbp": ("dia", "diastolic", "nibp_dia", "nibp_dbp", "nbp_dia", "bp_dia"),
    "map": ("mean", "mbp", "nibp_mean", "nibp_map", "nibp_mbp", "nbp_mean", "bp_mean"),
    "hr": ("heart_rate", "heartrate", "ecg_hr", "hr_ecg"),
    "spo2": ("sp_o2", "pleth_spo2", "pleth_sat_o2", "sat_o2"),
    "pr": ("pulse_rate", "pulse", "pleth_hr", "pleth_pr", "spo2_pr"),
    "rr": ("resp_rate", "respiratory_rate", "resp", "awrr"),
    "time": ("timestamp", "datetime", "t", "seconds"),
    "event": ("events", "marker", "note", "notes"),
}
_CANONICAL: dict[str, str] = {alias: name for name, aliases in _ALIASES.items() for alias in (name, *aliases)}


def column_meaning(name: str) -> str | None:
    """What a column header or a recorder's track name stands for (`Intellivue/ECG_HR` → `hr`), through the
    alias table above; None for a name it does not know. The `.vital` reader maps track names here too."""
    return _CANONICAL.get(_normalise(name))


_WIDE_COLUMNS = frozenset({"time", "event", *VITALS})
_LONG_COLUMNS = frozenset({"time", "vital", "value", "source"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

@dataclass(frozen=True)
class CsvProblem:
    """Why one row was bad; `line` is the 1-based physical line where the row starts (header = 1)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


LISTED_ROWS = 20  # a message names this many bad rows, then says how many more there are


def describe_bad_rows(problems: Sequence[CsvProblem]) -> str:
    """Every bad row, in one line: "2 bad rows: line 10: …; line 21: …", so each can be found in an editor.
    Past LISTED_ROWS the rest are counted ("; and 5 more"): a wholly wrong file must not flood the terminal."""
    count = "1 bad row" if len(problems) == 1 else f"{len(problems)} bad rows"
    listed = "; ".join(map(str, problems[:LISTED_ROWS]))
    more = f"; and {len(problems) - LISTED_ROWS} more" if len(problems) > LISTED_ROWS else ""
    return f"{count}: {listed}{more}"


class CsvError(Exception):
    """The file is refused; `problems` lists every bad row (empty for whole-file problems)."""

    def __init__(self, message: str, problems: list[CsvProblem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[CsvProblem] = list(problems or [])


@dataclass
class RecordedSession:
    """What a file held, in file order, plus what was ignored (`warnings`) or skipped on request."""

    readings: list[Reading] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[CsvProblem] = field(default_factory=list)
    relative_time: bool = False
    start: datetime | None = None


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




def read_session_csv(
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
    from adapters.files.csv_rows import read_rows  # pandas loads here, when a file is read

    session, bad = read_rows(records, _layout(records.header), zone, (start or _EPOCH).astimezone(UTC), source_name)
    if bad and not skip_bad_rows:
        raise CsvError(describe_bad_rows(bad), bad)
    session.skipped = bad
    return session


def _records(text: str) -> Records:
    from adapters.files.csv_table import HeaderError, split

    try:
        records = split(text)
    except HeaderError as err:
        raise CsvError(f"line {err.line}: {err.reason}", [CsvProblem(err.line, err.reason)]) from None
    if records is None:
        raise CsvError("empty file: no header row")
    return records
