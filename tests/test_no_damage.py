"""No failing command damages a file or a database that was there before, and commands that only read
create nothing: `record`, `decode`, `export`, `report`, `replay`, `dashboard`, `user list` as real
subprocesses."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, run_vigil, run_vigil_with_file_limit

from adapters.files.csv_reader import read_session_csv
from adapters.files.csv_recorder import CsvRecorder, finish_journal, journal_path
from adapters.model.reading import Event, Reading
from monitor.store import Store
from monitor.timeutil import from_us

SAMPLE = ROOT / "sample_data" / "hypertensive.csv"
KEEP = "time,sbp\n2026-11-20T09:00:00Z,120\n" * 50  # someone's earlier capture


def one_line_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"vigil {command}: error: "), result.stderr
    return line


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    db = tmp_path / "vigil.db"
    assert run_vigil("import", SAMPLE, "--db", db).returncode == 0
    return db


def test_record_from_a_port_that_does_not_open_leaves_the_existing_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "keep.csv"
    out.write_text(KEEP)
    result = run_vigil("record", "--port", "/dev/ttyVIGIL9", "--protocol", "ge-s5", "--out", out)
    assert "cannot open /dev/ttyVIGIL9" in one_line_error(result, "record")
    assert out.read_text() == KEEP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]  # no journal or temporary file left


@pytest.mark.parametrize("command", [("export", "--out"), ("report", "--out")])
def test_export_and_report_that_fail_while_writing_leave_the_existing_file_alone(
    command: tuple[str, str], imported: Path, tmp_path: Path
) -> None:
    out = tmp_path / ("keep.csv" if command[0] == "export" else "keep.pdf")
    out.write_text(KEEP)
    result = run_vigil_with_file_limit(40_000, command[0], "1", command[1], out, "--db", imported)
    assert "File too large" in one_line_error(result, command[0])
    assert out.read_text() == KEEP
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".keep")]  # the temporary file is removed


def test_decode_of_a_file_without_readings_leaves_the_existing_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "keep.csv"
    out.write_text(KEEP)
    result = run_vigil("decode", ROOT / "README.md", "--protocol", "ge-s5", "--out", out)
    assert "no ge-s5 readings" in one_line_error(result, "decode")
    assert out.read_text() == KEEP


@pytest.mark.parametrize(
    "args",
    [("report", "1"), ("export", "1", "--out", "x.csv"), ("dashboard",), ("user", "list")],
)
def test_commands_that_only_read_do_not_create_a_database(args: tuple[str, ...], tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    result = subprocess.run([sys.executable, "-m", "monitor.cli", *args, "--db", str(db)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert one_line_error(result, args[0]).endswith(f"no database at {db}")
    assert list(tmp_path.iterdir()) == []


def test_replay_refused_for_a_busy_http_port_leaves_no_session(imported: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_vigil("replay", SAMPLE, "--no-auth", "--port", port, "--db", imported)
    assert f"cannot serve on 127.0.0.1:{port}" in one_line_error(result, "replay")
    store = Store(imported)
    try:
        assert [s.id for s in store.sessions.listing()] == [1]  # only the import made before
    finally:
        store.close()


# -- the capture journal of `vigil record` --

def readings(start_us: int, n: int) -> list[Reading | Event]:
    return [Reading(from_us(start_us + i * 1_000_000), "hr", 70 + i % 5, "monitor") for i in range(n)]


def test_a_capture_is_on_the_disk_as_each_batch_arrives_and_finishes_in_time_order(tmp_path: Path) -> None:
    out = tmp_path / "capture.csv"
    recorder = CsvRecorder(out)
    t0 = 1_795_000_000_000_000
    recorder.add(readings(t0 + 10_000_000, 5))
    late_nibp = Reading(from_us(t0), "sbp", 131, "monitor")  # dated before rows already written
    recorder.add([late_nibp, Event(from_us(t0 + 15_000_000), "note", "cuff, left arm", "monitor")])
    # Nothing held back in memory: a process killed now has it all on the disk.
    journal = recorder.journal.read_text()
    assert journal.count("\n") == 1 + 5 + 2 and "131" in journal and "cuff, left arm" in journal
    assert not out.exists()
    assert recorder.finish() == (7, 0)
    recording = read_session_csv(out)
    assert (recording.readings[0].time, recording.readings[0].value) == (late_nibp.time, 131)
    assert len(recording.readings) == 6
    assert [e.text for e in recording.events] == ["cuff, left arm"]
    assert not recorder.journal.exists()


def test_an_interrupted_journal_is_kept_and_recovered_with_a_row_cut_short_left_out(tmp_path: Path) -> None:
    out = tmp_path / "capture.csv"
    recorder = CsvRecorder(out)
    recorder.add(readings(1_795_000_000_000_000, 3))
    recorder.close()  # the process dies here, mid-line:
    with recorder.journal.open("a") as journal:
        journal.write("2026-11-20T09:00:0")
    with pytest.raises(FileExistsError, match="--recover"):
        CsvRecorder(out)  # a new capture never overwrites it
    assert finish_journal(journal_path(out), out) == (3, 1)
    assert len(read_session_csv(out).readings) == 3


def test_record_recover_without_a_journal_and_record_without_a_port_say_so(tmp_path: Path) -> None:
    out = tmp_path / "capture.csv"
    result = run_vigil("record", "--recover", "--out", out)
    assert one_line_error(result, "record").endswith(f"no interrupted capture to recover: {out}.part does not exist")
    result = run_vigil("record", "--out", out)
    assert one_line_error(result, "record").endswith("record needs --port and --protocol (or --recover)")
    assert list(tmp_path.iterdir()) == []
