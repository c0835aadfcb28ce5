"""Records → the session: the contract's rules (docs/csv-format.md) over whole columns at once.

Each cell rule lives in csv_cells and is applied to each distinct text of a column (pandas.factorize), then
spread back over the rows; the time column goes through csv_times. A row is kept only if every cell in it is
good, exactly as reading row by row would decide (tests/test_csv_reference.py compares the two on random files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from adapters.files.csv_cells import Bad, show, value_of
from adapters.files.csv_reader import _CANONICAL, CsvProblem, RecordedSession, _Layout, _normalise
from adapters.files.csv_table import Records
from adapters.files.csv_times import read_times
from adapters.model.reading import Event, Reading, parse_event_marker
from adapters.model.vitals import VITALS

Mask = npt.NDArray[np.bool_]


@dataclass
class _Column:
    """One vital's cells: the value where present and good, and the reason of each bad one."""

    vital: str
    values: npt.NDArray[np.float64]
    present: Mask
    reasons: dict[int, str]


def _per_text(column: pd.Series, judge: Callable[[str], object]) -> tuple[npt.NDArray[np.intp], list[object]]:
    """Judge each distinct text once: (each row's index into the verdicts, the verdicts)."""
    codes, uniques = pd.factorize(column)
    return codes, [judge(text) for text in uniques]


def _value_column(vital: str, texts: pd.Series) -> _Column:
    def judge(text: str) -> float | str | None:
        if not text:
            return None
        try:
            return value_of(vital, text)
        except Bad as bad:
            return str(bad)

    codes, verdicts = _per_text(texts, judge)
    numbers = np.array([v if isinstance(v, float) else np.nan for v in verdicts] + [np.nan])[codes]
    bad = np.array([isinstance(v, str) for v in verdicts] + [False])[codes]
    reasons = {i: str(verdicts[codes[i]]) for i in np.flatnonzero(bad).tolist()}
    return _Column(vital, numbers, ~np.isnan(numbers), reasons)


def _instants(us: npt.NDArray[np.int64]) -> list[datetime]:
    """Aware UTC datetimes, made by pandas in one pass (a day's 86 400 in about a third of the time of
    attaching the zone to each naive one in Python)."""
    return pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize(UTC).to_pydatetime().tolist()


class _Rows:
    """The data rows (blank ones and those the csv module gave up on left out) and what is wrong with them."""

    def __init__(self, records: Records, layout: _Layout, source_name: str) -> None:
        keep = ~records.blank
        keep[list(records.errors)] = False
        self.index = np.flatnonzero(keep)  # each row's record
        self.cells = records.cells.iloc[self.index].reset_index(drop=True)
        self.lines = records.lines[self.index]
        self.layout = layout
        self.source_name = source_name
        widths = records.widths[self.index]
        self.too_wide = {i: f"{int(widths[i])} cells but the header has {layout.width}"
                         for i in np.flatnonzero(widths > layout.width).tolist()}
        self.value_reasons: dict[int, list[str]] = {}

    def column(self, name: str) -> pd.Series:
        return self.cells[self.layout.columns[name]]

    def add_reasons(self, reasons: dict[int, str]) -> None:
        for i, reason in reasons.items():
            self.value_reasons.setdefault(i, []).append(reason)

    def others_ok(self) -> Mask:
        ok = np.ones(len(self.index), bool)
        ok[list(self.too_wide)] = False
        ok[list(self.value_reasons)] = False
        return ok

    def problems(self, time_reasons: dict[int, str]) -> list[tuple[int, CsvProblem]]:
        """(record, problem) of each bad row; "; " separates rows in messages, so a row's reasons join with ", "."""
        out = []
        for i in sorted({*self.too_wide, *time_reasons, *self.value_reasons}):
            parts = [*filter(None, (self.too_wide.get(i), time_reasons.get(i))), *self.value_reasons.get(i, [])]
            out.append((int(self.index[i]), CsvProblem(int(self.lines[i]), ", ".join(parts))))
        return out


def read_rows(records: Records, layout: _Layout, zone: tzinfo | None, origin: datetime,
              source_name: str) -> tuple[RecordedSession, list[CsvProblem]]:
    """The session the good rows give, and every bad row in file order."""
    rows = _Rows(records, layout, source_name)
    session = RecordedSession(warnings=list(layout.warnings))
    build = _long(rows) if layout.long else _wide(rows)
    times = read_times(rows.column("time").to_numpy(), rows.lines, rows.others_ok(), zone, origin)
    good = rows.others_ok() & times.placed
    kept = np.flatnonzero(good)
    when: dict[int, datetime] = dict(zip(kept.tolist(), _instants(times.us[kept]), strict=True))
    build(session, when)
    session.relative_time = bool(times.relative)
    session.start = when[int(kept[0])] if len(kept) else None
    bad = rows.problems(times.reasons) + [(i, CsvProblem(int(records.lines[i]), r)) for i, r in records.errors.items()]
    return session, [problem for _, problem in sorted(bad, key=lambda item: item[0])]


Build = Callable[[RecordedSession, dict[int, datetime]], None]


def _wide(rows: _Rows) -> Build:
    """Judge the vital columns now; the returned step adds the kept rows' readings and events."""
    columns = [_value_column(v, rows.column(v)) for v in rows.layout.columns if v in VITALS]
    for column in columns:
        rows.add_reasons(column.reasons)

    def build(session: RecordedSession, when: dict[int, datetime]) -> None:
        kept = np.fromiter(when, np.int64, len(when))
        order: list[tuple[npt.NDArray[np.int64], int, npt.NDArray[np.float64]]] = []
        for rank, column in enumerate(columns):
            at = kept[column.present[kept]]
            order.append((at, rank, column.values[at]))
        at = np.concatenate([o[0] for o in order]) if order else np.zeros(0, np.int64)
        ranks = np.concatenate([np.full(len(o[0]), o[1]) for o in order]) if order else at
        values = np.concatenate([o[2] for o in order]) if order else np.zeros(0)
        sequence = np.lexsort((ranks, at))  # file order, then column order within a row
        vitals = [c.vital for c in columns]
        checked, source = Reading.checked, rows.source_name
        session.readings = [checked(when[i], vitals[r], x, source) for i, r, x in
                            zip(at[sequence].tolist(), ranks[sequence].tolist(), values[sequence].tolist(),
                                strict=True)]
        if "event" in rows.layout.columns:
            markers = rows.column("event").to_numpy()
            session.events = [Event(when[i], *parse_event_marker(markers[i]), source=source)
                              for i in when if markers[i]]

    return build


def _long(rows: _Rows) -> Build:
    """As `_wide`, for `time,vital,value[,source]` rows: one reading or event (or an unknown vital) per row."""
    names, texts = rows.column("vital").to_numpy(), rows.column("value")
    codes, meanings = _per_text(rows.column("vital"), lambda name: _CANONICAL.get(_normalise(name)))
    meaning = np.array([*meanings, None], dtype=object)[codes]
    values = np.full(len(names), np.nan)
    for vital in VITALS:
        at = np.flatnonzero((meaning == vital) & (texts != "").to_numpy())
        column = _value_column(vital, texts.iloc[at])
        values[at] = column.values
        rows.add_reasons({int(at[i]): reason for i, reason in column.reasons.items()})
    orphans = np.flatnonzero((names == "") & (texts != "").to_numpy())
    rows.add_reasons({i: f"value {show(texts.iloc[i])} has no vital" for i in orphans.tolist()})
    sources = rows.column("source").to_numpy() if "source" in rows.layout.columns else None

    def build(session: RecordedSession, when: dict[int, datetime]) -> None:
        unknown: dict[str, int] = {}
        for i, t in when.items():
            source = sources[i] if sources is not None and sources[i] else rows.source_name
            if meaning[i] == "event":
                if texts.iloc[i]:
                    session.events.append(Event(t, *parse_event_marker(texts.iloc[i]), source=source))
            elif meaning[i] in VITALS:
                if not np.isnan(values[i]):
                    session.readings.append(Reading.checked(t, meaning[i], float(values[i]), source))
            elif names[i]:
                unknown[names[i]] = unknown.get(names[i], 0) + 1
        for name, count in unknown.items():
            counted = "1 row" if count == 1 else f"{count} rows"
            session.warnings.append(f"unknown vital {show(name)} ignored ({counted})")

    return build
