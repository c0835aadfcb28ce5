"""The package's vectorised CSV reader against the row-by-row reference (tests/csv_reference.py) on random files.

Files are built from rows that are mostly valid with every kind of bad cell mixed in (NaN, NA, --, inf,
out-of-range values, times that go back or are of the other form, naive or nonexistent local times, too many
cells, quotes that make a record span lines, blank lines, Windows and old-Mac line ends): both readers must
refuse with the same message and bad lines, or give the same readings, events, warnings and skipped rows.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from csv_reference import read_rows_reference
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.files.csv_reader import CsvError, RecordedSession, read_session_csv

ISO_TIMES = st.one_of(
    st.builds("2026-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format, st.integers(0, 13), st.integers(0, 32),
              st.integers(0, 24), st.integers(0, 60), st.integers(0, 60),
              st.sampled_from(["Z", "z", "+01:00", "-05:30", "+00:00", "+23:59", "+24:00", "+0100", "+01", "",
                               ".5Z", ",25Z", ".1234567Z", ".000001+02:00", "-00:61", ".Z", ".+01:00", "+1:00"])),
    st.sampled_from(["2026-10-25 02:30", "2026-10-25T02:30:00", "2026-03-29T02:30", "2026-10-25 01:59:59",
                     "0001-01-01T00:00+01:00", "9999-12-31T23:59:59-01:00", "2024-02-29T00:00:00Z",
                     "2026-11-20t09:00:00Z", "2026-11-20 09:00Z", "2026-11-20T09:00:00.123456789Z"]),
)
SECONDS = st.one_of(st.integers(-5, 100).map(str), st.sampled_from(["1.5", "1e3", ".5", "5.", "1e999", "nan", "-0"]))
TIMES = st.one_of(ISO_TIMES, SECONDS, st.sampled_from(["", " ", "yesterday", "--"]))
VALUES = st.one_of(
    st.integers(-5, 400).map(str),
    st.sampled_from(["", " ", "72.5", "NaN", "nan", "NA", "--", "inf", "-Infinity", "1e999", "1e2", " 98 ", "7O",
                     "1_000", "٣", '"72"', "+5", "-0"]),
)
MARKERS = st.sampled_from(["", "dose_start", "device_1", "note: a, b", "Dose_End", "hello", " "])
HEADERS = st.lists(
    st.sampled_from(["time", "Time", "t", "sbp", "NIBP Sys", "Solar8000/NIBP_SBP", "hr", "heart_rate", "spo2",
                     "pr", "rr", "map", "dbp", "event", "notes", "etco2", "", "seconds"]),
    min_size=1, max_size=6,
)


@st.composite
def wide_file(draw: Any) -> str:
    header = draw(HEADERS)
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, 0, -1, 1, 2]))
        cells = [draw(st.one_of(TIMES, VALUES, MARKERS)) for _ in range(max(width, 0))]
        if cells and draw(st.booleans()):
            cells[0] = draw(TIMES)
        rows.append(",".join(cells))
    return _lines(draw, [",".join(header), *rows])


@st.composite
def long_file(draw: Any) -> str:
    header = draw(st.sampled_from(["time,vital,value", "time,vital,value,source", "t,Vital,VALUE,source,extra"]))
    names = st.sampled_from(["hr", "SpO2", "nibp_sys", "event", "marker", "etco2", "", "time", "Pleth/SpO2"])
    rows = [",".join([draw(TIMES), draw(names), draw(st.one_of(VALUES, MARKERS)),
                      draw(st.sampled_from(["", "mon1", "mon2"]))][: draw(st.integers(2, 5))])
            for _ in range(draw(st.integers(0, 12)))]
    return _lines(draw, [header, *rows])


def _lines(draw: Any, lines: list[str]) -> str:
    """Join with random line ends, blank lines and (sometimes) a quoted cell that spans lines."""
    out = []
    for line in lines:
        out.append(line)
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from(["", " ", ",,", '"a\nb"', '"x","y"'])))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return end.join(out) + draw(st.sampled_from(["", end]))


def outcome(read: Any, text: str, **kwargs: Any) -> tuple[str, Any]:
    try:
        session: RecordedSession = read(io.StringIO(text, newline=""), **kwargs)
    except CsvError as err:
        return "refused", (str(err), err.problems)
    assert all(type(r.time) is type(r.time.replace()) and r.time.tzinfo is not None for r in session.readings)
    return "read", (session.readings, session.events, session.warnings, session.skipped, session.relative_time,
                    session.start)


OPTIONS = st.sampled_from([{}, {"skip_bad_rows": True}, {"tz": "Europe/Berlin"},
                           {"skip_bad_rows": True, "tz": "Europe/Berlin", "source_name": "csv"}])


@settings(max_examples=400, deadline=None)
@given(st.one_of(wide_file(), long_file()), OPTIONS)
def test_the_vectorised_reader_reads_as_the_row_by_row_reference(text: str, options: dict[str, Any]) -> None:
    assert outcome(read_session_csv, text, **options) == outcome(read_rows_reference, text, **options)


@pytest.mark.parametrize("time", ["2026-11-20T09:00:00.Z", "2026-11-20T09:00:00.+01:00", "2026-11-20T09:00:00.5Z",
                                  "2026-02-29T09:00:00Z", "2024-02-29T09:00:00-23:59", "2026-11-20T09:00:00+1:00"])
def test_times_near_the_fast_forms_edges_read_as_the_reference(time: str) -> None:
    """The vectorised ISO form must not take what the rule refuses: a "." with no digit after it, Feb 29 of a
    common year; nor refuse what it takes."""
    text = f"time,hr\n{time},70\n"
    assert outcome(read_session_csv, text) == outcome(read_rows_reference, text)
