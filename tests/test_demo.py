"""`vigil demo` is one command: it serves the bed view on the bundled sample with no set-up and no sign-in,
on this computer only."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from support import free_port, json_strings


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def test_demo_serves_the_bed_view_and_streams(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(port, "/")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "demo did not start serving"
                time.sleep(0.2)
        assert status == 200 and b"Vigil" in body
        status, layout = get(port, "/_dash-layout")
        assert status == 200
        texts = json_strings(layout)
        assert "demo: iv_ketamine.csv" in texts and "replay-bar" in texts
        # No sign-in, and the screen says so; every control is there (nothing is hidden by a role).
        assert "local demo — no login" in texts and "no-login-badge" in texts
        classes = {word for text in texts for word in text.split()}
        assert "no-limits" not in classes and "signed-in-as" not in texts
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/stream?session=1")
        response = conn.getresponse()
        assert response.status == 200
        readings: list = []
        while not readings:  # the first messages may carry only the clock, before the replay's first batch
            line = response.fp.readline()
            assert line, "the stream ended"
            if line.startswith(b"data: "):
                readings = json.loads(line[6:]).get("r", [])
        assert readings, "the stream carries the sample's readings"
        conn.close()
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
