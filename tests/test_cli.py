"""The `vigil` command, run as a real subprocess against a real SQLite file in tmp_path (architecture §6).

Errors must be one line on stderr, exit 2, and never a traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import ROOT, free_port

from adapters.files.csv_reader import read_session_csv
from adapters.model.reading import Reading
from monitor.store import Store

SAMPLES = ROOT / "sample_data"
SUMMARY = re.compile(r"session (\d+): (\d+) readings, (\d+) events(?:, \d+ alarms)?(?: — .*)?\n")
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

GOOD_CSV = """time,sbp,dbp,map,hr,spo2,pr,rr,event
2026-11-20T09:00:00Z,,,,72,98,,,
2026-11-20T09:00:01Z,128,82,97,73,98,,,
2026-11-20T09:00:02Z,,,,74,97,,,dose_start
2026-11-20T09:00:03Z,,,,,,,,note: all well
2026-11-20T09:00:04Z,,,,75,97,71,14,
"""
# rows on lines 3 and 5 are bad; the others hold 2 + 2 readings
BAD_ROWS_CSV = """time,hr,spo2
2026-11-20T09:00:00Z,70,98
2026-11-20T09:00:01Z,abc,98
2026-11-20T09:00:02Z,72,97
2026-11-20T09:00:03Z,73,101
"""


def vigil(*args: str | Path, env_db: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if env_db is not None:
        env["VIGIL_DB"] = str(env_db)  # never the user's own database, even if --db were ignored
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(tmp_path: Path, text: str, name: str = "session.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def summary(result: subprocess.CompletedProcess[str]) -> tuple[int, int, int]:
    match = SUMMARY.fullmatch(result.stdout)
    assert match, f"unexpected stdout {result.stdout!r} (stderr {result.stderr!r})"
    return int(match[1]), int(match[2]), int(match[3])


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert result.stderr.endswith("\n")
    assert "error" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def key(r: Reading) -> tuple[datetime, str, float, str]:
    return (r.time, r.vital, r.value, r.source)


# -- help --


def test_help() -> None:
    result = vigil("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: vigil")
    for command in ("demo", "replay", "import"):
        assert command in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("command", ["demo", "replay", "import"])
def test_subcommand_help(command: str) -> None:
    result = vigil(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: vigil {command}")
    assert "--db" in result.stdout
    assert result.stderr == ""


@pytest.mark.skipif(shutil.which("vigil") is None, reason="the vigil entry point is not installed")
def test_entry_point_help() -> None:
    result = subprocess.run(["vigil", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: vigil")


def test_no_command_is_a_one_line_error() -> None:
    assert_one_line_error(vigil(), "required")


def test_unknown_command_is_a_one_line_error() -> None:
    assert_one_line_error(vigil("frobnicate"), "invalid choice", "frobnicate")


# -- import --


def test_import_sample_and_import_again_is_idempotent(tmp_path: Path, db: str) -> None:
    path = SAMPLES / "iv_ketamine.csv"
    expected = read_session_csv(path)
    first = vigil("import", path, "--session", "iv", "--db", db, env_db=tmp_path / "env.db")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    sid, n_readings, n_events = summary(first)
    assert (n_readings, n_events) == (len(expected.readings), len(expected.events)) == (27045, 2)
    second = vigil("import", path, "--session", "iv", "--db", db, env_db=tmp_path / "env.db")
    assert second.returncode == 0, second.stderr
    assert summary(second) == (sid, n_readings, n_events)
    assert not (tmp_path / "env.db").exists()  # --db was used, not $VIGIL_DB

    store = Store(db)
    try:
        assert store.sessions.find("iv") == sid
        info = store.sessions.info(sid)
        assert info.kind == "import"
        assert info.origin == str(path.resolve())
        assert store.samples.counts(sid) == (n_readings, n_events)
        assert sorted(map(key, store.samples.readings(sid))) == sorted(map(key, expected.readings))
        assert store.samples.events(sid) == expected.events
    finally:
        store.close()


def test_import_default_session_name_and_the_same_recording_under_another_name(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    path = write(tmp_path, GOOD_CSV, "bed7.csv")
    a = vigil("import", path, "--db", db)
    b = vigil("import", path, "--session", "other", "--db", db)
    assert summary(a) == summary(b) == (1, 13, 2)
    assert a.stdout.endswith("— imported as a new session\n")
    assert b.stdout.endswith("— this recording was imported before; nothing added\n")
    store = Store(db)
    try:
        assert store.sessions.find("bed7.csv") == 1 and store.sessions.find("other") is None
    finally:
        store.close()


def test_import_uses_vigil_db_when_no_db_is_given(tmp_path: Path) -> None:
    env_db = tmp_path / "from-env.db"
    result = vigil("import", write(tmp_path, GOOD_CSV), env_db=env_db)
    assert result.returncode == 0, result.stderr
    assert env_db.is_file()


def test_import_relative_seconds_with_start(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    path = write(tmp_path, "time,hr\n0,70\n1.5,71\n60,72\n")
    result = vigil("import", path, "--start", "2026-11-20T10:00:00+01:00", "--db", db)
    assert summary(result)[1:] == (3, 0)
    store = Store(db)
    try:
        sid = summary(result)[0]
        assert store.sessions.info(sid).relative_time is True
        times = [r.time for r in store.samples.readings(sid)]
        assert times == [T0, T0 + timedelta(seconds=1.5), T0 + timedelta(seconds=60)]
    finally:
        store.close()


def test_import_local_times_with_tz(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    path = write(tmp_path, "time,hr\n2026-11-20T10:00:00,70\n2026-11-20T10:00:05,71\n")
    result = vigil("import", path, "--tz", "Europe/Berlin", "--db", db)
    sid = summary(result)[0]
    store = Store(db)
    try:
        assert [r.time for r in store.samples.readings(sid)] == [T0, T0 + timedelta(seconds=5)]  # CET = UTC+1
    finally:
        store.close()


def test_unknown_column_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "time,hr,temperature\n2026-11-20T09:00:00Z,70,36.8\n")
    result = vigil("import", path, "--db", tmp_path / "vigil.db")
    assert result.returncode == 0
    assert summary(result)[1:] == (1, 0)
    assert "warning" in result.stderr and "temperature" in result.stderr


@pytest.mark.parametrize("command", ["import", "replay"])
def test_skip_bad_rows_goes_on_and_reports_the_count(tmp_path: Path, command: str) -> None:
    path = write(tmp_path, BAD_ROWS_CSV)
    extra = ["--headless", "--speed", "max"] if command == "replay" else []
    result = vigil(command, path, "--skip-bad-rows", *extra, "--db", tmp_path / "vigil.db")
    assert result.returncode == 0, result.stderr
    assert summary(result)[1:] == (4, 0)
    assert "Traceback" not in result.stderr
    assert "skipped 2 bad rows" in result.stderr
    assert "line 3:" in result.stderr


# -- replay --


def test_replay_headless_max_stores_every_reading(db: str) -> None:
    path = SAMPLES / "artefacts.csv"
    expected = read_session_csv(path)
    result = vigil("replay", path, "--headless", "--speed", "max", "--session", "art", "--db", db)
    assert result.returncode == 0, result.stderr
    sid, n_readings, n_events = summary(result)
    assert (n_readings, n_events) == (len(expected.readings), len(expected.events))
    store = Store(db)
    try:
        info = store.sessions.info(sid)
        assert (info.name, info.kind) == ("art", "replay")
        assert (info.span_start, info.span_end) == (expected.readings[0].time, expected.readings[-1].time)
        assert info.clock_pos == info.span_end
        stored = store.samples.readings(sid)
        assert len(stored) == len(expected.readings)
        assert sorted(map(key, stored)) == sorted(map(key, expected.readings))
        assert store.samples.events(sid) == expected.events
    finally:
        store.close()


def test_replay_headless_real_time_speed(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    path = write(tmp_path, GOOD_CSV)
    result = vigil("replay", path, "--headless", "--speed", "1000", "--db", db)  # 4 s of recording: 4 ms
    assert result.returncode == 0, result.stderr
    assert summary(result)[1:] == (13, 2)


def test_replay_twice_makes_two_sessions(tmp_path: Path) -> None:
    db = tmp_path / "vigil.db"
    path = write(tmp_path, GOOD_CSV)
    a = summary(vigil("replay", path, "--headless", "--speed", "max", "--db", db))
    b = summary(vigil("replay", path, "--headless", "--speed", "max", "--db", db))
    assert a[0] != b[0]
    assert a[1:] == b[1:] == (13, 2)


def test_replay_accepts_a_valid_limits_file(tmp_path: Path) -> None:
    limits = write(tmp_path, 'preset = "esketamine"\n[vitals.sbp]\nhigh = 170\n', "limits.toml")
    result = vigil("replay", write(tmp_path, GOOD_CSV), "--headless", "--speed", "max", "--limits", limits,
                   "--db", tmp_path / "vigil.db")
    assert result.returncode == 0, result.stderr
    assert summary(result)[1:] == (13, 2)


# -- errors: one line, exit 2, no traceback, and nothing stored --

LIMITS_FILES = {
    "unknown_key": 'preset = "iv-ketamine"\n[vitals.sbp]\nhihg = 170\n',
    "order": "[vitals.sbp]\nlow = 150\nhigh = 120\n",
    "broken": "[vitals.sbp\n",
}

# id: (arguments with {file} placeholders, fragments the one error line must contain)
ERROR_CASES: dict[str, tuple[list[str], list[str]]] = {
    "import-missing-file": (["import", "{missing}"], ["vigil import", "no such file", "missing.csv"]),
    "replay-missing-file": (["replay", "{missing}", "--headless"], ["vigil replay", "no such file"]),
    "import-bad-rows": (["import", "{bad}"], ["vigil import", "2 bad rows", "line 3:", "'abc'"]),
    "replay-bad-rows": (["replay", "{bad}", "--headless", "--speed", "max"], ["vigil replay", "line 3:"]),
    "speed-0": (["replay", "{good}", "--headless", "--speed", "0"], ["--speed", "'0'"]),
    "speed-5000": (["replay", "{good}", "--headless", "--speed", "5000"], ["--speed", "'5000'"]),
    "speed-fast": (["replay", "{good}", "--headless", "--speed", "fast"], ["--speed", "'fast'"]),
    "limits-unknown-key": (["replay", "{good}", "--headless", "--limits", "{unknown_key}"],
                           ["unknown key vitals.sbp.hihg"]),
    "limits-order": (["replay", "{good}", "--headless", "--limits", "{order}"],
                     ["vitals.sbp.low (150) must be below vitals.sbp.high (120)"]),
    "limits-bad-toml": (["replay", "{good}", "--headless", "--limits", "{broken}"], ["not valid TOML"]),
    "limits-missing": (["replay", "{good}", "--headless", "--limits", "{missing}"], ["no such limits file"]),
    "start-without-offset": (["import", "{good}", "--start", "2026-11-20T09:00:00"], ["--start", "offset"]),
    "tz-unknown": (["import", "{good}", "--tz", "Mars/Olympus"], ["unknown time zone", "Mars/Olympus"]),
    "naive-time-without-tz": (["import", "{naive}"], ["line 2:", "no UTC offset"]),
    "empty-file": (["import", "{empty}"], ["empty file"]),
    "header-only": (["import", "{header_only}"], ["holds no readings or events"]),
    "not-utf8": (["import", "{latin1}"], ["not UTF-8"]),
    "unknown-option": (["import", "{good}", "--bogus"], ["unrecognized arguments", "--bogus"]),
}


def _run_error_case(base: Path, args: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    base.mkdir()
    files = {
        "missing": base / "missing.csv",
        "good": write(base, GOOD_CSV, "good.csv"),
        "bad": write(base, BAD_ROWS_CSV, "bad.csv"),
        "naive": write(base, "time,hr\n2026-11-20T09:00:00,70\n", "naive.csv"),
        "empty": write(base, "", "empty.csv"),
        "header_only": write(base, "time,hr,spo2\n", "header.csv"),
        "latin1": base / "latin1.csv",
        **{name: write(base, text, f"{name}.toml") for name, text in LIMITS_FILES.items()},
    }
    files["latin1"].write_bytes("time,hr,event\n2026-11-20T09:00:00Z,70,Fieber 39° \n".encode("latin-1"))
    argv = [a.format(**files) for a in args]
    return vigil(*argv, "--db", base / "vigil.db", env_db=base / "env.db"), base


@pytest.fixture(scope="module")
def error_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """Run every error case once, several at a time (each is a separate process with its own files)."""
    root = tmp_path_factory.mktemp("cli-errors")
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(_run_error_case, root / name, args) for name, (args, _) in ERROR_CASES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_are_one_line_exit_2(
    case: str, error_results: dict[str, tuple[subprocess.CompletedProcess[str], Path]]
) -> None:
    result, base = error_results[case]
    assert_one_line_error(result, *ERROR_CASES[case][1])
    assert result.stdout == ""
    assert not (base / "vigil.db").exists(), "a refused command must not create or touch the database"
    assert not (base / "env.db").exists()


def test_bad_speed_message_is_argparse_style(tmp_path: Path) -> None:
    result = vigil("replay", write(tmp_path, GOOD_CSV), "--speed", "fast", "--db", tmp_path / "v.db")
    assert_one_line_error(result, "vigil replay: error: argument --speed", "1 to 1000", "see vigil replay --help")


def test_unusable_database_is_a_one_line_error(tmp_path: Path) -> None:
    not_a_file = tmp_path / "dir.db"
    not_a_file.mkdir()
    result = vigil("import", write(tmp_path, GOOD_CSV), "--db", not_a_file)
    assert_one_line_error(result, "unable to open database file")


def test_an_unreachable_database_server_is_one_line_naming_it_and_no_file_is_made(tmp_path: Path) -> None:
    """The issue's example: this once wrote an SQLite file at ./postgresql:/vigil@127.0.0.1:PORT/vigil."""
    port = free_port()  # nobody listens there
    csv = write(tmp_path, GOOD_CSV)
    before = set(ROOT.iterdir())
    result = vigil("import", csv, "--db", f"postgresql://vigil@127.0.0.1:{port}/vigil")
    assert_one_line_error(result, f"vigil import: error: cannot reach the database at 127.0.0.1:{port}/vigil",
                          "refused")
    assert set(ROOT.iterdir()) == before  # the working directory (the project) holds nothing new
    assert sorted(tmp_path.iterdir()) == [csv]


@pytest.mark.parametrize("url", ["postgresql:/vigil@127.0.0.1:5999/vigil", "mysql://u@h/db"])
def test_what_is_not_a_database_url_vigil_uses_is_one_line(tmp_path: Path, url: str) -> None:
    result = vigil("import", write(tmp_path, GOOD_CSV), "--db", url)
    assert_one_line_error(result, f"{url!r} is not a database Vigil can use")


def test_store_failure_during_headless_replay_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as raw:  # e.g. a database left by an incompatible version: readings lack columns
        raw.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, session_id INTEGER)")
    result = vigil("replay", write(tmp_path, GOOD_CSV), "--headless", "--speed", "max", "--db", db)
    assert_one_line_error(result, "replay failed")
