"""VitalRecorder `.vital` recordings (issue 19, docs/csv-format.md "VitalRecorder files").

The two real IntelliVue recordings in tests/data/vital are read by Vigil and, independently, by the vitaldb
package itself, and the two compared record by record. The rules (track choice, NIBP repeats, bad values)
are checked on small files written with vitaldb's own writer. Damaged files go through the real CLI.
"""

from __future__ import annotations

import gzip
import logging
import re
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import vitaldb
from conftest import TEST_DATA
from support import one_line_error, run_vigil

from adapters.files.csv_reader import CsvError, read_session_csv
from adapters.files.recording import read_recording
from adapters.files.vital_reader import NIBP_REPEAT_S, VitalError
from monitor.site.config import SiteError, load_site

RECORDINGS = TEST_DATA / "vital"
DEMO1 = RECORDINGS / "test_intellivue_demo1.vital"  # 26 s, no events
DEMO = RECORDINGS / "test_data_demo.vital"  # 37 s, an EVENT track
FILES = [DEMO1, DEMO]
# Where each vital comes from in the IntelliVue files: ECG_HR, not HR (the rule: the source-named track first).
CONTINUOUS = {"hr": "Intellivue/ECG_HR", "spo2": "Intellivue/PLETH_SAT_O2", "pr": "Intellivue/PLETH_HR",
              "rr": "Intellivue/RR"}
NIBP = {"sbp": "Intellivue/NIBP_SYS", "dbp": "Intellivue/NIBP_DIA", "map": "Intellivue/NIBP_MEAN"}
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def tracks_by_vitaldb(path: Path) -> dict[str, Any]:
    """The file as vitaldb itself reads it, with no Vigil code involved."""
    return vitaldb.VitalFile(str(path)).trks


def utc(dt: float) -> datetime:
    return datetime.fromtimestamp(dt, UTC)


def of(session: Any, vital: str) -> list[tuple[datetime, float]]:
    return [(r.time, r.value) for r in session.readings if r.vital == vital]


def write_vital(path: Path, tracks: dict[str, list[tuple[float, Any]]]) -> Path:
    """A `.vital` file written by vitaldb's writer: numeric tracks of (seconds after T0, value), text tracks of
    (seconds, text), and a waveform track when the name ends in `/WAVE`."""
    vital_file = vitaldb.VitalFile()
    for name, records in tracks.items():
        srate = 100 if name.endswith("/WAVE") else 0
        recs = [{"dt": T0 + s, "val": v} for s, v in records]
        vital_file.add_track(name, recs, srate=srate)
    vital_file.to_vital(str(path))
    return path


# -- the two real recordings --


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_continuous_vital_is_every_record_of_its_track_as_vitaldb_reads_it(path: Path) -> None:
    session = read_recording(path)
    tracks = tracks_by_vitaldb(path)
    for vital, track in CONTINUOUS.items():
        expected = [(utc(rec["dt"]), rec["val"]) for rec in tracks[track].recs]
        assert len(expected) > 20 and of(session, vital) == expected, vital
    # The demo monitor's constant values (tests/data/vital/README.md).
    assert {vital: {v for _, v in of(session, vital)} for vital in CONTINUOUS} == {
        "hr": {60}, "spo2": {95}, "pr": {60}, "rr": {15}}
    assert {r.vital for r in session.readings} == {*CONTINUOUS, *NIBP}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_times_are_the_recorders_utc_instants(path: Path) -> None:
    session = read_recording(path)
    tracks = tracks_by_vitaldb(path)
    first = min(rec["dt"] for name in (*CONTINUOUS.values(), *NIBP.values()) for rec in tracks[name].recs)
    last = max(rec["dt"] for name in CONTINUOUS.values() for rec in tracks[name].recs)
    assert session.start == utc(first) and not session.relative_time
    assert (session.readings[0].time, session.readings[-1].time) == (utc(first), utc(last))
    assert [r.time for r in session.readings] == sorted(r.time for r in session.readings)
    assert all(r.time.tzinfo == UTC and r.source == "replay" for r in session.readings)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_nibp_repeated_at_every_record_is_stored_once(path: Path) -> None:
    session = read_recording(path)
    tracks = tracks_by_vitaldb(path)
    for vital, track in NIBP.items():
        recs = tracks[track].recs
        assert len(recs) > 20 and len({rec["val"] for rec in recs}) == 1  # one cuff result, logged again and again
        assert of(session, vital) == [(utc(recs[0]["dt"]), recs[0]["val"])]
    assert [of(session, v)[0][1] for v in NIBP] == [120, 80, 90]


def test_the_event_track_becomes_notes_on_the_timeline() -> None:
    session = read_recording(DEMO)
    recs = tracks_by_vitaldb(DEMO)["EVENT"].recs
    assert len(recs) == 4
    assert [(e.time, e.kind, e.text) for e in session.events] == [(utc(r["dt"]), "note", r["val"]) for r in recs]
    assert session.events[0].text == "Start ventilator settings"
    assert read_recording(DEMO1).events == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_track_used_the_waveforms_skipped_and_the_unknown_tracks_are_each_said_once(path: Path) -> None:
    tracks = tracks_by_vitaldb(path)
    warnings = read_recording(path).warnings
    assert warnings[0] == ("hr from 'Intellivue/ECG_HR', not 'Intellivue/HR': "
                           "the track named after where it is measured is used first")
    waves = [name for name, t in tracks.items() if t.type == 1]
    unknown = ["Intellivue/NIBP_HR", "Intellivue/ABP_MEAN", "Intellivue/ABP_SYS", "Intellivue/ABP_DIA",
               "Intellivue/PLETH_PERF_REL"]
    assert [w for w in warnings if "waveform" in w] == [
        "waveform tracks skipped (Vigil keeps numerics): " + ", ".join(map(repr, waves))]
    assert [w for w in warnings if "unknown" in w] == ["unknown tracks ignored: " + ", ".join(map(repr, unknown))]
    assert len(warnings) == 3


def test_import_then_export_gives_the_csv_form_which_reads_back_the_same(tmp_path: Path) -> None:
    db, out = tmp_path / "v.db", tmp_path / "demo.csv"
    imported = run_vigil("import", DEMO, "--db", db)
    assert imported.returncode == 0, imported.stderr
    assert "hr from 'Intellivue/ECG_HR'" in imported.stderr and "Traceback" not in imported.stderr
    exported = run_vigil("export", "1", "--out", out, "--db", db)
    assert exported.returncode == 0, exported.stderr
    direct, back = read_recording(DEMO), read_session_csv(out)
    assert sorted((r.time, r.vital, r.value) for r in back.readings) == sorted(
        (r.time, r.vital, r.value) for r in direct.readings)
    assert [(e.time, e.kind, e.text) for e in back.events] == [(e.time, e.kind, e.text) for e in direct.events]
    again = run_vigil("import", out, "--db", tmp_path / "again.db")
    assert again.returncode == 0 and f"{len(direct.readings)} readings, 4 events" in again.stdout


# -- damaged files: one line through the CLI --


def cut_points(size: int) -> list[int]:
    return [1, 3, 12, size // 4, size // 2, size - 9, size - 1]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_truncated_copy_is_refused_in_one_line(path: Path, tmp_path: Path) -> None:
    """Every cut is refused by the reader as truncated; one of them through the real CLI (each `vigil` process
    costs seconds of start-up, and the CLI's way with a refusal is the same for every cut)."""
    data = path.read_bytes()
    for size in cut_points(len(data)):
        cut = tmp_path / f"cut-{size}.vital"
        cut.write_bytes(data[:size])
        with pytest.raises(VitalError, match="truncated") as refused:
            read_recording(cut)
        assert "\n" not in str(refused.value), size
    result = run_vigil("check", tmp_path / f"cut-{len(data) // 2}.vital", "--limits", "news2")
    line = one_line_error(result, "check")
    assert result.stdout == "" and "truncated" in line, line
    # vitaldb itself would have returned what came before the cut, as if the recording were whole.
    assert len(tracks_by_vitaldb(cut)["Intellivue/ECG_HR"].recs) > 0


@pytest.mark.parametrize("command", ["check", "import", "replay", "simulate"])
def test_every_command_refuses_a_truncated_copy_the_same_way(command: str, tmp_path: Path) -> None:
    cut, db = tmp_path / "cut.vital", tmp_path / "v.db"
    cut.write_bytes(DEMO.read_bytes()[:9000])
    args = {"check": [cut, "--limits", "news2"], "import": [cut, "--db", db],
            "replay": [cut, "--headless", "--speed", "max", "--db", db],
            "simulate": ["--protocol", "ge-s5", "--scenario", cut]}[command]
    line = one_line_error(run_vigil(command, *args), command)
    assert line.endswith("truncated: the compressed data ends before its end marker"), line
    assert not db.exists()


# -- the rules, on files written with vitaldb's writer --


@pytest.mark.parametrize(("tracks", "used", "why"), [
    ({"Dev/HR": 5, "Dev/ECG_HR": 3}, "Dev/ECG_HR", "the track named after where it is measured is used first"),
    ({"A/HR": 3, "B/HEART_RATE": 5}, "B/HEART_RATE", "the one with more records (5 against 3)"),
    ({"A/HR": 3, "B/HR": 3}, "A/HR", "equal tracks: the first in the file"),
], ids=["source-named", "more-records", "file-order"])
def test_of_two_tracks_for_one_vital_the_rule_picks_one_and_says_why(
        tracks: dict[str, int], used: str, why: str, tmp_path: Path) -> None:
    values = {name: 60.0 + i for i, name in enumerate(tracks)}  # each track its own value, to see which was read
    path = write_vital(tmp_path / "two.vital", {n: [(s, values[n]) for s in range(k)] for n, k in tracks.items()})
    session = read_recording(path)
    assert {v for _, v in of(session, "hr")} == {values[used]} and len(of(session, "hr")) == tracks[used]
    other = next(n for n in tracks if n != used)
    assert session.warnings == [f"hr from {used!r}, not {other!r}: {why}"]


def test_nibp_is_stored_once_per_measurement_however_the_recorder_logged_it(tmp_path: Path) -> None:
    late = 2 + NIBP_REPEAT_S + 1  # the same result again after a silence: a recorder that logs each measurement once
    path = write_vital(tmp_path / "nibp.vital", {
        "Dev/NIBP_SYS": [(0, 120), (1, 120), (2, 120), (late, 120), (late + 1, 130), (late + 2, 130)],
        "Dev/NIBP_DIA": [(0, 80), (1, 80), (2, 80), (late, 80), (late + 1, 80), (late + 2, 80)],
        "Dev/HR": [(0, 60)],
    })
    session = read_recording(path)
    at = [utc(T0), utc(T0 + late), utc(T0 + late + 1)]
    assert of(session, "sbp") == list(zip(at, [120, 120, 130], strict=True))
    assert of(session, "dbp") == list(zip(at, [80, 80, 80], strict=True))  # 130/80 keeps its repeated 80


def test_an_implausible_value_refuses_the_file_unless_bad_records_are_skipped(tmp_path: Path) -> None:
    path = write_vital(tmp_path / "bad.vital", {"Dev/PLETH_SAT_O2": [(0, 97), (1, 101), (2, 98)]})
    with pytest.raises(VitalError) as refused:
        read_recording(path)
    reason = "Dev/PLETH_SAT_O2 record 2 at 2027-01-15T08:00:01Z: spo2 value 101 is outside the plausible range 0 to 100"
    assert str(refused.value) == f"1 bad row: {reason}"
    session = read_recording(path, skip_bad_rows=True)
    assert [v for _, v in of(session, "spo2")] == [97, 98] and list(map(str, session.skipped)) == [reason]


def test_a_file_with_no_usable_numeric_track_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write_vital(tmp_path / "none.vital", {"Dev/ABP_SYS": [(0, 120)], "EVENT": [(0, "start")]})
    line = one_line_error(run_vigil("check", path, "--limits", "news2"), "check")
    assert line.endswith("no usable numeric track (none maps to a vital sign) among 'Dev/ABP_SYS', 'EVENT'"), line


def test_the_content_decides_the_form_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "recording.csv"
    renamed.write_bytes(DEMO.read_bytes())
    assert read_recording(renamed).readings == read_recording(DEMO).readings
    text = "time,hr\n2026-11-20T09:00:00Z,72\n"
    (tmp_path / "text.vital").write_text(text)
    (tmp_path / "packed.csv").write_bytes(gzip.compress(text.encode()))
    damaged = bytearray(DEMO.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "damaged.vital").write_bytes(damaged)
    for name, says in [("text.vital", "not a VitalRecorder file: a .vital file is gzip-compressed, this one is not"),
                       ("packed.csv", "gzip-compressed, but not a VitalRecorder file (no 'VITA' signature)"),
                       ("damaged.vital", "damaged compressed data")]:
        with pytest.raises(CsvError, match=re.escape(says)):
            read_recording(tmp_path / name)


def test_what_vitaldb_complains_of_becomes_the_one_line_and_nothing_reaches_stdout(tmp_path: Path) -> None:
    # Well framed, but a track-info packet too short for its name: vitaldb prints an error and gives up.
    body = b"VITA" + struct.pack("<LH", 3, 26) + bytes(26) + struct.pack("<BL", 0, 4) + struct.pack("<HBB", 1, 2, 1)
    path = tmp_path / "short.vital"
    path.write_bytes(gzip.compress(body))
    result = run_vigil("check", path, "--limits", "news2")
    assert result.stdout == ""
    assert "vitaldb cannot read it: Error in reading file: unpack_from requires" in one_line_error(result, "check")


def test_tz_and_start_are_said_to_be_unused_for_a_vital_file() -> None:
    session = read_recording(DEMO1, tz="Europe/Berlin", start=utc(T0))
    assert session.warnings[-1] == "tz and start not used: a .vital file's times are UTC instants"
    assert session.readings == read_recording(DEMO1).readings


def test_a_site_replays_a_vital_file_and_logs_its_track_choice(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "demo.vital").write_bytes(DEMO.read_bytes())
    site = tmp_path / "site.toml"
    site.write_text('name = "Test"\n\n[[beds]]\nid = "training"\nreplay = "demo.vital"\n')
    with caplog.at_level(logging.WARNING):
        bed = load_site(site).beds[0]
    assert bed.recording.readings == read_recording(DEMO).readings
    assert f"{tmp_path / 'demo.vital'}: hr from 'Intellivue/ECG_HR'" in caplog.text
    (tmp_path / "demo.vital").write_bytes(DEMO.read_bytes()[:5000])
    with pytest.raises(SiteError, match=r"site.toml, line 5: beds\[1\].replay: .*demo.vital: truncated"):
        load_site(site)


def test_a_file_whose_every_value_is_skipped_holds_nothing_and_says_so(tmp_path: Path) -> None:
    path = write_vital(tmp_path / "all-bad.vital", {"Dev/PLETH_SAT_O2": [(0, 101), (1, 102)]})
    session = read_recording(path, skip_bad_rows=True)
    assert (session.readings, session.start, len(session.skipped)) == ([], None, 2)
    result = run_vigil("check", path, "--limits", "news2", "--skip-bad-rows")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("vigil: skipped 2 bad rows: Dev/PLETH_SAT_O2 record 1 at ")
    assert result.stderr.splitlines()[1].endswith("all-bad.vital holds no readings or events"), result.stderr


def test_check_of_a_folder_takes_its_vital_files_too(tmp_path: Path) -> None:
    (tmp_path / "b.vital").write_bytes(DEMO.read_bytes())
    (tmp_path / "a.csv").write_text("time,hr\n2026-01-01T08:00:00Z,80\n")
    result = run_vigil("check", tmp_path, "--limits", "news2")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line.endswith("episodes")] == [
        f"{tmp_path / 'a.csv'}: 0 episodes", f"{tmp_path / 'b.vital'}: 0 episodes"]
