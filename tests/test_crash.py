"""Nothing committed is lost when acquisition dies: SIGKILL a replay mid-way and reopen the database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from adapters.files.csv_reader import read_session_csv

SAMPLE = "hypertensive.csv"


def stored_rows(db: Path, session: int = 1) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT t_us, vital, value FROM readings WHERE session_id = ? ORDER BY id",
                                (session,)).fetchall()
        except sqlite3.OperationalError as exc:  # the file exists a moment before its schema does
            if "no such table" in str(exc):
                return []
            raise


def vigil(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_sigkill_mid_replay_keeps_every_committed_reading(tmp_path: Path, sample_data: Path) -> None:
    csv_path = sample_data / SAMPLE
    db = tmp_path / "vigil.db"
    expected = [
        (int(r.time.timestamp() * 1_000_000), r.vital, r.value) for r in read_session_csv(csv_path).readings
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "replay", str(csv_path), "--headless", "--speed", "1000",
         "--session", "crash", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db.exists() and len(stored_rows(db)) > len(expected) // 4:
                break
            assert proc.poll() is None, "replay ended before it could be killed"
            time.sleep(0.05)
        else:
            raise AssertionError("replay never got a quarter of the way")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    survived = stored_rows(db)
    assert len(expected) // 4 < len(survived) < len(expected), "the kill should land mid-replay"
    # Batches commit in order, so what survived is exactly a prefix of the recording: no gap, no duplicate.
    assert survived == expected[: len(survived)]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # Importing the recording makes a complete session of its own and leaves the killed one as it was.
    result = vigil("import", csv_path, "--session", "crash", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"session 2: {len(expected)} readings, 2 events — imported as a new session"
    assert stored_rows(db, 1) == survived
    assert sorted(stored_rows(db, 2)) == sorted(expected)

    # And a fresh replay of it lands in a session of its own, complete.
    again = vigil("replay", csv_path, "--headless", "--speed", "max", "--db", db)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"session 3: {len(expected)} readings, 2 events, 6 alarms"
