"""`vigil demo` is one command: a small clinic — the four bundled samples on four chairs, each from its own
point — served as a site, with no set-up and no sign-in, on this computer only."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from support import free_port, json_strings

from adapters.files.csv_reader import read_session_csv
from monitor.cli.site import DEMO_CHAIRS
from monitor.config import sample_path
from monitor.store import Store
from monitor.web import urls


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def stream_readings(port: int, session_id: int) -> list:
    """The first readings the session's stream carries (its first messages may carry only the clock)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", f"{urls.STREAM}?session={session_id}")
        response = conn.getresponse()
        assert response.status == 200
        while True:
            line = response.fp.readline()
            assert line, "the stream ended"
            if line.startswith(b"data: ") and (readings := json.loads(line[6:]).get("r", [])):
                return readings
    finally:
        conn.close()


def test_demo_is_a_clinic_of_four_chairs_each_replaying_a_sample_from_its_own_point(tmp_path: Path) -> None:
    port, db = free_port(), tmp_path / "demo.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "demo", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = get(port, urls.SITE)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "demo did not start serving"
                time.sleep(0.2)
        assert status == 200  # it lands on the central view, whose tiles open every chair
        chairs = {f"chair-{n}": sample for n, (sample, _) in enumerate(DEMO_CHAIRS, 1)}
        status, layout = get(port, urls.SITE + "_dash-layout")
        assert status == 200
        assert {urls.site_bed(bed) for bed in chairs} <= set(json_strings(layout))
        store = Store(db)
        try:
            sessions = sorted(store.sessions.listing(), key=lambda s: s.id)
            assert len(sessions) == 4
            for session, (bed, sample) in zip(sessions, chairs.items(), strict=True):
                label = f"Chair {bed[-1]}"
                assert session.name == f"{label}: {sample}"
                # Each chair's view loads, with no sign-in (the screen says so) and every control there.
                status, layout = get(port, urls.site_bed(bed) + "_dash-layout")
                assert status == 200
                texts = json_strings(layout)
                assert label in texts and "replay-bar" in texts
                assert "local demo — no login" in texts and "no-login-badge" in texts
                classes = {word for text in texts for word in text.split()}
                assert "no-limits" not in classes and "signed-in-as" not in texts
                assert stream_readings(port, session.id), f"{bed}'s stream carries its sample's readings"
            # Staggered: each chair began at its own point of its recording, what came before stored at once.
            for session, (_, minutes) in zip(sessions, DEMO_CHAIRS, strict=True):
                first, last = store.samples.extent(session.id) or (None, None)
                assert first is not None and last is not None
                assert last - first >= timedelta(minutes=minutes)
        finally:
            store.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_demo_at_max_speed_stores_each_recording_once_and_rests(tmp_path: Path) -> None:
    """At 20× the chairs start over when they end; as fast as possible they would never rest, so they stop."""
    port, db = free_port(), tmp_path / "max.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "demo", "--port", str(port), "--db", str(db), "--speed", "max"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        expected = [len(read_session_csv(sample_path(sample)).readings) for sample, _ in DEMO_CHAIRS]
        deadline = time.monotonic() + 60
        counts: list[int] = []
        while counts != expected:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"stored {counts}, expected {expected}"
            time.sleep(0.5)
            if db.exists():
                store = Store(db, create=False)
                try:
                    counts = [store.samples.counts(s.id)[0]
                              for s in sorted(store.sessions.listing(), key=lambda s: s.id)]
                finally:
                    store.close()
        time.sleep(2)  # resting: nothing rewound and stored again
        store = Store(db, create=False)
        try:
            sessions = sorted(store.sessions.listing(), key=lambda s: s.id)
            assert [store.samples.counts(s.id)[0] for s in sessions] == expected
            assert [store.sessions.info(s.id).epoch for s in sessions] == [0] * 4
        finally:
            store.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "demo", "--port", str(port), "--db", str(tmp_path / "d.db")],
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(port) in result.stderr
