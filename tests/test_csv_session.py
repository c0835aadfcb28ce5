"""The recorded-session CSV reader against its fixed contract, docs/csv-format.md.

Every test writes a real file; line numbers in messages are checked exactly because users find bad
rows in an editor by them.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.files.csv_reader import CsvError, CsvProblem, RecordedSession, describe_bad_rows, read_session_csv
from adapters.files.csv_writer import WIDE_COLUMNS, write_session_csv
from adapters.model.reading import EVENT_KINDS, Event, Reading
from adapters.model.vitals import VITALS

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HEADER = "time,sbp,dbp,map,hr,spo2,pr,rr,event\n"


def csv_file(tmp_path: Path, text: str, name: str = "session.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def read(tmp_path: Path, text: str, **kwargs: object) -> RecordedSession:
    return read_session_csv(csv_file(tmp_path, text), **kwargs)  # type: ignore[arg-type]


def refused(tmp_path: Path, text: str, **kwargs: object) -> CsvError:
    with pytest.raises(CsvError) as info:
        read(tmp_path, text, **kwargs)
    return info.value


def values(session: RecordedSession) -> list[tuple[datetime, str, float]]:
    return [(r.time, r.vital, r.value) for r in session.readings]


# --- forms -------------------------------------------------------------------------------------


def test_canonical_wide_form(tmp_path: Path) -> None:
    session = read(
        tmp_path,
        HEADER
        + "2026-11-20T09:00:00Z,,,,72,98,,,\n"
        + "2026-11-20T09:00:05Z,128,82,97,73,98,,,\n"
        + "2026-11-20T09:15:00Z,,,,75,97,,,dose_start\n",
    )
    t5, t15 = T0 + timedelta(seconds=5), T0 + timedelta(minutes=15)
    assert values(session) == [
        (T0, "hr", 72), (T0, "spo2", 98),
        (t5, "sbp", 128), (t5, "dbp", 82), (t5, "map", 97), (t5, "hr", 73), (t5, "spo2", 98),
        (t15, "hr", 75), (t15, "spo2", 97),
    ]  # fmt: skip
    assert session.events == [Event(t15, "dose_start")]
    assert {r.source for r in session.readings} == {"replay"}
    assert session.start == T0
    assert session.relative_time is False
    assert session.warnings == [] and session.skipped == []


def test_all_times_are_aware_utc(tmp_path: Path) -> None:
    session = read(tmp_path, "time,hr\n2026-11-20T10:00:00+01:00,70\n")
    assert session.readings[0].time.utcoffset() == timedelta(0)
    assert session.start is not None and session.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:00:00+01:00", T0),
        ("2026-11-20T04:00:00-05:00", T0),
        ("2026-11-20T14:30:00+0530", T0),
        ("2026-11-20T11:00:00+02", T0),
        ("2026-11-20 09:00:00Z", T0),
        ("2026-11-20t09:00:00z", T0),
        ("2026-11-20T09:00Z", T0),
        ("2026-11-20T09:00:00.250Z", T0 + timedelta(milliseconds=250)),
        ("2026-11-20T10:00:00.123456789+01:00", T0 + timedelta(microseconds=123456)),
        ('"2026-11-20T09:00:00,5Z"', T0 + timedelta(milliseconds=500)),
    ],
)
def test_iso_times_with_offsets_become_utc(tmp_path: Path, text: str, expected: datetime) -> None:
    assert read(tmp_path, f"time,hr\n{text},70\n").readings[0].time == expected


def test_relative_seconds_default_to_the_epoch(tmp_path: Path) -> None:
    session = read(tmp_path, "seconds,hr\n0,70\n1.5,71\n60,72\n")
    assert [r.time for r in session.readings] == [
        EPOCH, EPOCH + timedelta(seconds=1.5), EPOCH + timedelta(minutes=1)
    ]
    assert session.relative_time is True
    assert session.start == EPOCH


def test_relative_seconds_are_placed_at_start(tmp_path: Path) -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    session = read(tmp_path, "time,hr\n5,70\n10,71\n", start=start)
    assert [r.time for r in session.readings] == [T0 + timedelta(seconds=5), T0 + timedelta(seconds=10)]
    assert session.start == T0 + timedelta(seconds=5)


def test_naive_start_needs_a_zone(tmp_path: Path) -> None:
    naive = datetime(2026, 11, 20, 10, 0)
    assert "no UTC offset" in str(refused(tmp_path, "time,hr\n5,70\n", start=naive))
    session = read(tmp_path, "time,hr\n0,70\n", start=naive, tz="Europe/Berlin")
    assert session.readings[0].time == T0


def test_naive_times_use_the_named_zone_with_dst(tmp_path: Path) -> None:
    session = read(
        tmp_path, "time,hr\n2026-07-01T12:00:00,70\n2026-11-20 10:00:00,71\n", tz="Europe/Berlin"
    )
    assert [r.time for r in session.readings] == [datetime(2026, 7, 1, 10, 0, tzinfo=UTC), T0]


def test_offset_wins_over_tz(tmp_path: Path) -> None:
    session = read(tmp_path, "time,hr\n2026-11-20T09:00:00Z,70\n", tz="America/New_York")
    assert session.readings[0].time == T0


def test_repeated_autumn_hour_follows_file_order(tmp_path: Path) -> None:
    # Berlin 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:00-02:59 happens twice.
    session = read(
        tmp_path,
        "time,hr\n2026-10-25 02:30,70\n2026-10-25 02:59,71\n2026-10-25 02:10,72\n2026-10-25 03:00,73\n",
        tz="Europe/Berlin",
    )
    assert [r.time.strftime("%H:%M") for r in session.readings] == ["00:30", "00:59", "01:10", "02:00"]


def test_local_time_in_the_spring_gap_is_a_bad_row(tmp_path: Path) -> None:
    err = refused(tmp_path, "time,hr\n2026-03-29 02:30,70\n", tz="Europe/Berlin")
    assert err.problems == [
        CsvProblem(2, "time '2026-03-29 02:30' does not exist in Europe/Berlin (clock change)")
    ]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "Europe"])
def test_unknown_zone_is_refused(tmp_path: Path, zone: str) -> None:
    err = refused(tmp_path, "time,hr\n2026-11-20 09:00,70\n", tz=zone)
    assert str(err).startswith(f"unknown time zone {zone!r}")


def test_long_form(tmp_path: Path) -> None:
    session = read(
        tmp_path,
        "Time,Vital,Value\n"
        "2026-11-20T09:00:00Z,hr,72\n"
        "2026-11-20T09:00:00Z,NIBP Sys,128\n"
        "2026-11-20T09:00:00Z,Solar8000/SpO2,98\n"
        "2026-11-20T09:00:05Z,hr,\n",
    )
    assert values(session) == [(T0, "hr", 72), (T0, "sbp", 128), (T0, "spo2", 98)]
    assert {r.source for r in session.readings} == {"replay"}
    assert session.start == T0


def test_long_form_with_source_column(tmp_path: Path) -> None:
    session = read(
        tmp_path,
        "timestamp,vital,value,source\n0,hr,72,bed1\n0,hr,80,\n1,event,dose_start,bed1\n",
        source_name="file",
    )
    assert [(r.value, r.source) for r in session.readings] == [(72, "bed1"), (80, "file")]
    assert session.events == [Event(EPOCH + timedelta(seconds=1), "dose_start", source="bed1")]


def test_long_form_events(tmp_path: Path) -> None:
    session = read(
        tmp_path,
        "time,vital,value\n0,event,dose_start\n1,marker,device_1\n2,note,patient asleep\n"
        "3,event,note: nausea\n4,event,\n",
    )
    assert [(e.kind, e.text) for e in session.events] == [
        ("dose_start", ""), ("device_1", ""), ("note", "patient asleep"), ("note", "nausea"),
    ]  # fmt: skip
    assert [e.time for e in session.events] == [EPOCH + timedelta(seconds=s) for s in range(4)]


def test_long_form_quoted_event_with_comma(tmp_path: Path) -> None:
    session = read(tmp_path, 'time,vital,value\n0,event,"note: nausea, mild"\n')
    assert [(e.kind, e.text) for e in session.events] == [("note", "nausea, mild")]


def test_long_form_unknown_vitals_warned_once_with_count(tmp_path: Path) -> None:
    session = read(
        tmp_path, "time,vital,value\n0,etco2,35\n0,hr,70\n1,etco2,x\n2,EtCO2,36\n3,temp,36.6\n"
    )
    assert values(session) == [(EPOCH, "hr", 70)]
    assert session.warnings == [
        "unknown vital 'etco2' ignored (2 rows)",
        "unknown vital 'EtCO2' ignored (1 row)",
        "unknown vital 'temp' ignored (1 row)",
    ]


def test_long_form_bad_values(tmp_path: Path) -> None:
    err = refused(tmp_path, "time,vital,value\n0,hr,NaN\n1,spo2,101\n2,,70\n")
    assert [str(p) for p in err.problems] == [
        "line 2: hr value 'NaN' is not a number",
        "line 3: spo2 value '101' is outside the plausible range 0 to 100",
        "line 4: value '70' has no vital",
    ]


def test_long_form_extra_column_is_warned(tmp_path: Path) -> None:
    session = read(tmp_path, "time,vital,value,unit\n0,hr,70,bpm\n")
    assert values(session) == [(EPOCH, "hr", 70)]
    assert session.warnings == ["unknown column 'unit' ignored"]


# --- header ------------------------------------------------------------------------------------

ALIASES = {
    "sbp": ["sys", "systolic", "nibp_sys", "nibp_sbp", "nbp_sys", "bp_sys"],
    "dbp": ["dia", "diastolic", "nibp_dia", "nibp_dbp", "nbp_dia", "bp_dia"],
    "map": ["mean", "mbp", "nibp_mean", "nibp_map", "nibp_mbp", "nbp_mean", "bp_mean"],
    "hr": ["heart_rate", "heartrate", "ecg_hr", "hr_ecg"],
    "spo2": ["sp_o2", "pleth_spo2", "pleth_sat_o2", "sat_o2"],
    "pr": ["pulse_rate", "pulse", "pleth_hr", "pleth_pr", "spo2_pr"],
    "rr": ["resp_rate", "respiratory_rate", "resp", "awrr"],
}
VALID = {"sbp": 120, "dbp": 80, "map": 95, "hr": 70, "spo2": 97, "pr": 71, "rr": 14}


@pytest.mark.parametrize(
    ("column", "vital"), [(a, v) for v, names in ALIASES.items() for a in (v, *names)]
)
def test_every_vital_alias(tmp_path: Path, column: str, vital: str) -> None:
    session = read(tmp_path, f"time,{column}\n0,{VALID[vital]}\n")
    assert values(session) == [(EPOCH, vital, VALID[vital])]


@pytest.mark.parametrize("column", ["time", "timestamp", "datetime", "t", "seconds", "TIME", " Time "])
def test_time_aliases(tmp_path: Path, column: str) -> None:
    assert read(tmp_path, f"{column},hr\n3,70\n").start == EPOCH + timedelta(seconds=3)


@pytest.mark.parametrize("column", ["event", "events", "marker", "note", "notes", "Notes"])
def test_event_aliases(tmp_path: Path, column: str) -> None:
    assert read(tmp_path, f"time,{column}\n0,dose_end\n").events == [Event(EPOCH, "dose_end")]


@pytest.mark.parametrize(
    ("column", "vital"),
    [
        ("Solar8000/NIBP_SBP", "sbp"),
        ("Solar8000/NIBP_DBP", "dbp"),
        ("Intellivue/ECG/HR", "hr"),
        ("Solar8000 / PLETH_SAT_O2", "spo2"),
        ("NIBP SYS", "sbp"),
        ("nibp-mean", "map"),
        ("Nibp.Dia", "dbp"),
        ("Heart Rate", "hr"),
        ("  Pulse-Rate ", "pr"),
        ("Resp.Rate", "rr"),
        ("SpO2", "spo2"),
        ("Sp O2", "spo2"),
    ],
)
def test_header_variants(tmp_path: Path, column: str, vital: str) -> None:
    session = read(tmp_path, f'time,"{column}"\n0,{VALID[vital]}\n')
    assert values(session) == [(EPOCH, vital, VALID[vital])]


def test_unknown_columns_are_warned_and_ignored(tmp_path: Path) -> None:
    session = read(tmp_path, "time,temp,hr,Solar8000/BT\n0,36.6,70,x\n")
    assert values(session) == [(EPOCH, "hr", 70)]
    assert session.warnings == ["unknown column 'temp' ignored", "unknown column 'Solar8000/BT' ignored"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("time,SBP,Solar8000/NIBP_SYS", "columns 'SBP' and 'Solar8000/NIBP_SYS' both map to 'sbp'"),
        ("time,hr,heart rate", "columns 'hr' and 'heart rate' both map to 'hr'"),
        ("time,timestamp,hr", "columns 'time' and 'timestamp' both map to 'time'"),
        ("time,event,notes", "columns 'event' and 'notes' both map to 'event'"),
    ],
)
def test_two_columns_for_one_meaning_refuse_the_file(tmp_path: Path, header: str, message: str) -> None:
    err = refused(tmp_path, f"{header}\n0,1,2\n")
    assert str(err) == message
    assert err.problems == []


@pytest.mark.parametrize("text", ["", "\n\n  \n", "\ufeff", ",,,\n\n"])
def test_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    assert str(refused(tmp_path, text)) == "empty file: no header row"


def test_header_without_time_is_refused(tmp_path: Path) -> None:
    err = refused(tmp_path, "sbp,hr\n120,70\n")
    assert str(err).startswith("no time column")


def test_header_only_is_an_empty_session(tmp_path: Path) -> None:
    session = read(tmp_path, HEADER)
    assert session == RecordedSession([], [], [], [], False, None)


def test_utf8_bom_and_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftime,hr\r\n0,70\r\n\r\n1,NaN\r\n")
    with pytest.raises(CsvError) as info:
        read_session_csv(path)
    assert str(info.value) == "1 bad row: line 4: hr value 'NaN' is not a number"


def test_path_as_str_and_open_stream(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "\ufefftime,hr\n0,70\n")
    assert values(read_session_csv(str(path))) == [(EPOCH, "hr", 70)]
    with path.open(encoding="utf-8") as stream:
        assert values(read_session_csv(stream)) == [(EPOCH, "hr", 70)]


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("time,hr,event\n0,70,Übelkeit\n".encode("latin-1"))
    with pytest.raises(CsvError, match="not UTF-8"):
        read_session_csv(path)


# --- bad rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("yesterday,70", "time 'yesterday' is neither ISO 8601 nor seconds from start"),
        (",70", "time is empty"),
        ("2026-11-20T09:00:00Z,70", "time '2026-11-20T09:00:00Z' is an ISO time but the file uses seconds"),
        ("1e999,70", "time '1e999' is not a valid time"),
        ("1e300,70", "time '1e300' is not a valid time"),
        ("5,NaN", "hr value 'NaN' is not a number"),
        ("5,NA", "hr value 'NA' is not a number"),
        ("5,--", "hr value '--' is not a number"),
        ("5,inf", "hr value 'inf' is not a number"),
        ("5,-Infinity", "hr value '-Infinity' is not a number"),
        ("5,1e999", "hr value '1e999' is not finite"),
        ("5,7O", "hr value '7O' is not a number"),
        ("5,351", "hr value '351' is outside the plausible range 0 to 350"),
        ("5,-1", "hr value '-1' is outside the plausible range 0 to 350"),
        ("5,70,1", "3 cells but the header has 2"),
    ],
)
def test_bad_row_kinds_relative(tmp_path: Path, row: str, reason: str) -> None:
    err = refused(tmp_path, f"time,hr\n0,70\n{row}\n")
    assert err.problems == [CsvProblem(3, reason)]
    assert str(err) == f"1 bad row: line 3: {reason}"


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("5", "is seconds but the file uses ISO times"),
        ("2026-11-20T09:00:00", "has no UTC offset (name the zone with tz to read local times)"),
        ("2026-02-30T09:00:00Z", "is not a valid time"),
        ("2026-11-20T25:00:00Z", "is not a valid time"),
        ("2026-11-20T10:00:00+24:00", "is not a valid time"),
        ("2026-11-20", "is neither ISO 8601 nor seconds from start"),
        ("2026-11-20T08:59:59Z", "is earlier than '2026-11-20T09:00:00Z' on line 2"),
        ("2026-11-20T10:59:59+02:00", "is earlier than '2026-11-20T09:00:00Z' on line 2"),
    ],
)
def test_bad_row_kinds_absolute(tmp_path: Path, time: str, reason: str) -> None:
    err = refused(tmp_path, f"time,hr\n2026-11-20T09:00:00Z,70\n{time},70\n")
    assert err.problems == [CsvProblem(3, f"time '{time}' {reason}")]


@pytest.mark.parametrize(
    ("vital", "low", "high"),
    [
        ("sbp", 10, 350), ("dbp", 5, 300), ("map", 5, 320),
        ("hr", 0, 350), ("pr", 0, 350), ("spo2", 0, 100), ("rr", 0, 150),
    ],
)  # fmt: skip
def test_plausible_ranges_are_inclusive(tmp_path: Path, vital: str, low: float, high: float) -> None:
    assert (VITALS[vital].low, VITALS[vital].high) == (low, high)
    session = read(tmp_path, f"time,{vital}\n0,{low}\n1,{high}\n")
    assert [r.value for r in session.readings] == [low, high]
    err = refused(tmp_path, f"time,{vital}\n0,{low - 0.1:g}\n1,{high + 0.1:g}\n")
    assert [p.line for p in err.problems] == [2, 3]


def test_every_bad_row_is_collected_with_physical_line_numbers(tmp_path: Path) -> None:
    text = (
        "time,hr,spo2,event\n"  # 1
        "\n"  # 2
        "0,70,98,\n"  # 3
        "   \n"  # 4
        '1,71,97,"note: line one\n'  # 5
        'line two"\n'  # 6
        "2,NaN,97,\n"  # 7
        "\n"  # 8
        "\n"  # 9
        "1,72,96,\n"  # 10: equal to line 5, the last good row (line 7 was bad)
        "0.5,72,96,\n"  # 11: earlier than line 10
        "3,--,101,dose_start\n"  # 12: two bad cells, one row
        "4,72,96,,extra\n"  # 13
    )
    err = refused(tmp_path, text)
    assert [str(p) for p in err.problems] == [
        "line 7: hr value 'NaN' is not a number",
        "line 11: time '0.5' is earlier than '1' on line 10",
        "line 12: hr value '--' is not a number, spo2 value '101' is outside the plausible range 0 to 100",
        "line 13: 5 cells but the header has 4",
    ]
    assert str(err) == "4 bad rows: " + "; ".join(map(str, err.problems))


def good_rows(count: int, start: int = 0) -> str:
    return "".join(f"{start + i},70\n" for i in range(count))


def test_every_bad_row_is_named_in_the_message(tmp_path: Path) -> None:
    # Lines 10 and 21 are bad: the message names both, not only the first.
    text = "time,hr\n" + good_rows(8) + "8,abc\n" + good_rows(10, 9) + "19,400\n" + good_rows(3, 20)
    err = refused(tmp_path, text)
    assert str(err) == (
        "2 bad rows: line 10: hr value 'abc' is not a number; "
        "line 21: hr value '400' is outside the plausible range 0 to 350"
    )


def test_a_long_list_of_bad_rows_names_the_first_20_and_counts_the_rest(tmp_path: Path) -> None:
    err = refused(tmp_path, "time,hr\n" + "".join(f"{i},x{i}\n" for i in range(25)))
    assert len(err.problems) == 25
    named = [f"line {i + 2}: hr value 'x{i}' is not a number" for i in range(20)]
    assert str(err) == "25 bad rows: " + "; ".join(named) + "; and 5 more"
    assert describe_bad_rows(err.problems[:20]) == "20 bad rows: " + "; ".join(named)  # 20 named: nothing "more"


def test_skip_bad_rows_keeps_the_good_ones(tmp_path: Path) -> None:
    session = read(
        tmp_path, "time,hr,event\n0,70,\n1,NaN,dose_start\n\n2,71,\nx,72,\n1,73,\n3,74,\n", skip_bad_rows=True
    )
    assert [p.line for p in session.skipped] == [3, 6, 7]
    assert [r.value for r in session.readings] == [70, 71, 74]
    assert session.events == []  # the event rode on a bad row, so it went with it


def test_bad_first_row_still_decides_the_form(tmp_path: Path) -> None:
    session = read(tmp_path, "time,hr\n0,NaN\n2026-11-20T09:00:00Z,70\n5,71\n", skip_bad_rows=True)
    assert [p.line for p in session.skipped] == [2, 3]
    assert session.relative_time is True
    assert session.start == EPOCH + timedelta(seconds=5)


def test_all_rows_skipped_leaves_no_start(tmp_path: Path) -> None:
    session = read(tmp_path, "time,hr\nx,70\n", skip_bad_rows=True)
    assert session.start is None and session.readings == [] and len(session.skipped) == 1


def test_csv_level_error_is_a_bad_row(tmp_path: Path) -> None:
    huge = "x" * 200_000
    err = refused(tmp_path, f"time,hr,event\n0,70,\n1,71,{huge}\n2,72,\n")
    assert [p.line for p in err.problems] == [3]
    assert "field larger than field limit" in err.problems[0].reason
    assert len(str(err)) < 200


def test_long_cell_text_is_shortened_in_messages(tmp_path: Path) -> None:
    nines = "9" * 30
    err = refused(tmp_path, f"time,hr\n0,{nines}x{nines}\n")
    assert str(err) == f"1 bad row: line 2: hr value '{nines}x999999...' is not a number"


# --- rows that are fine ------------------------------------------------------------------------


def test_equal_times_are_fine(tmp_path: Path) -> None:
    session = read(tmp_path, "time,hr,sbp\n0,70,\n0,,120\n0,71,\n")
    assert values(session) == [(EPOCH, "hr", 70), (EPOCH, "sbp", 120), (EPOCH, "hr", 71)]


def test_short_rows_and_whitespace(tmp_path: Path) -> None:
    session = read(tmp_path, "time,sbp,hr,event\n0\n1, 120 ,  \n 2 ,, 71\n")
    one, two = EPOCH + timedelta(seconds=1), EPOCH + timedelta(seconds=2)
    assert values(session) == [(one, "sbp", 120), (two, "hr", 71)]
    assert session.start == EPOCH  # a time-only row is still a data row


def test_event_only_rows_and_notes(tmp_path: Path) -> None:
    session = read(
        tmp_path,
        HEADER
        + "2026-11-20T09:00:00Z,,,,,,,,dose_start\n"
        + "2026-11-20T09:00:00Z,,,,,,,,note: free text\n"
        + "2026-11-20T09:01:00Z,,,,,,,,Device_2\n"
        + "2026-11-20T09:02:00Z,,,,,,,,patient asked for water\n"
        + '2026-11-20T09:03:00Z,,,,,,,,"note: pain 3/10, ok"\n'
        + "2026-11-20T09:04:00Z,,,,,,,,dose_end\n",
    )
    assert session.readings == []
    assert [(e.kind, e.text) for e in session.events] == [
        ("dose_start", ""),
        ("note", "free text"),
        ("device_2", ""),
        ("note", "patient asked for water"),
        ("note", "pain 3/10, ok"),
        ("dose_end", ""),
    ]
    assert session.events[1].time == T0


def test_source_name_is_applied(tmp_path: Path) -> None:
    session = read(tmp_path, "time,hr,event\n0,70,device_1\n", source_name="bed-3")
    assert session.readings[0].source == "bed-3"
    assert session.events[0].source == "bed-3"


# --- round trip and properties -----------------------------------------------------------------


def test_events_the_format_has_no_marker_for_are_written_as_notes_that_keep_them(tmp_path: Path) -> None:
    t = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    events = [Event(t, "link_lost", "no bytes for 10 s"), Event(t + timedelta(seconds=9), "link_restored")]
    path = tmp_path / "links.csv"
    write_session_csv(path, [], events)
    assert [(e.kind, e.text) for e in read_session_csv(path).events] == [
        ("note", "link lost: no bytes for 10 s"), ("note", "link restored")]


def test_round_trip_with_writer(tmp_path: Path) -> None:
    t = [T0 + timedelta(seconds=s) for s in (0, 5, 5.25, 60, 900)]
    readings = [
        Reading(t[0], "hr", 72), Reading(t[0], "spo2", 98),
        Reading(t[1], "sbp", 128), Reading(t[1], "dbp", 82), Reading(t[1], "map", 97.5),
        Reading(t[2], "pr", 73), Reading(t[2], "rr", 14),
        Reading(t[4], "hr", 75),
    ]  # fmt: skip
    events = [
        Event(t[0], "dose_start"),
        Event(t[3], "note", "nausea, mild\nresolved"),
        Event(t[3], "device_1"),
        Event(t[4], "note", ""),
    ]
    path = tmp_path / "out.csv"
    write_session_csv(path, readings, events)
    session = read_session_csv(path)
    assert session.readings == readings
    assert session.events == events
    assert session.warnings == [] and session.skipped == []


ORDER = {v: i for i, v in enumerate(WIDE_COLUMNS)}
instants = st.integers(0, 10**8).map(lambda ms: T0 + timedelta(milliseconds=ms))
reading = st.sampled_from(sorted(VITALS)).flatmap(
    lambda v: st.builds(
        Reading,
        instants,
        st.just(v),
        st.integers(int(VITALS[v].low * 10), int(VITALS[v].high * 10)).map(lambda x: x / 10),
    )
)
note = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20).map(str.strip)
event = st.one_of(
    st.builds(Event, instants, st.sampled_from([k for k in EVENT_KINDS if k != "note"])),
    st.builds(Event, instants, st.just("note"), note),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(reading, max_size=30, unique_by=lambda r: (r.time, r.vital)), st.lists(event, max_size=8))
def test_round_trip_property(tmp_path: Path, readings: list[Reading], events: list[Event]) -> None:
    path = tmp_path / "prop.csv"
    write_session_csv(path, readings, events)
    session = read_session_csv(path)
    assert session.readings == sorted(readings, key=lambda r: (r.time, ORDER[r.vital]))
    assert session.events == sorted(events, key=lambda e: e.time)


def check_only_csv_errors(text: str, tmp_path: Path | None = None) -> None:
    for kwargs in ({}, {"skip_bad_rows": True, "tz": "Europe/Berlin"}):
        source = csv_file(tmp_path, text) if tmp_path else io.StringIO(text, newline="")
        try:
            session = read_session_csv(source, **kwargs)  # type: ignore[arg-type]
        except CsvError as err:
            assert "\n" not in str(err)
        else:
            assert all(r.time.utcoffset() == timedelta(0) for r in session.readings)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_raises_only_csv_error(text: str) -> None:
    check_only_csv_errors(text)


cell = st.one_of(
    st.sampled_from(["", " ", "0", "-1", "1e308", "1e999", "nan", "inf", "72", "350.0", "--"]),
    st.sampled_from(['"', "\n", "\r", "\r\n", "\ufeff", "\x00", "/", "a/b/"]),
    st.sampled_from(["2026-10-25 02:30", "2026-03-29T02:30", "0001-01-01T00:00+01:00", "9999-12-31T23:59Z"]),
    st.sampled_from(["time", "t", "vital", "value", "source", "hr", "Solar8000/NIBP_SBP", "event", "etco2"]),
    st.sampled_from(["note: x, y", "dose_start", "2026-11-20T09:00:00.5+01:00", "1.5"]),
    st.text(max_size=5),
)
csv_like = st.lists(st.lists(cell, max_size=6).map(",".join), max_size=8).map("\n".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_like)
def test_csv_like_text_raises_only_csv_error(tmp_path: Path, text: str) -> None:
    check_only_csv_errors(text, tmp_path)
