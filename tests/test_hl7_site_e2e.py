"""HL7 monitors on the network, end to end in real processes: `vigil serve` with `[hl7] listen` and three HL7
beds, `vigil simulate --connect` as the monitors (and an unknown one), and `kill -9` of the listener while they
send."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import Processes, free_port, wait_for

from adapters.files.csv_reader import read_session_csv
from adapters.protocols.hl7_mllp.alarms import MONITOR_ALARM
from adapters.protocols.hl7_mllp.message import encode_oru
from monitor.store import Store

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
SECONDS = 60
DIP = range(20, 30)  # monitor 2's SpO2 below 90 %: its own alarm starts at 20 s and ends at 30 s


def scenario(tmp_path: Path, i: int) -> Path:
    """A minute of monitor i: HR 60 + i every second (so beds cannot be confused), SpO2, two cuff results."""
    rows = ["time,sbp,dbp,map,hr,spo2"]
    for s in range(SECONDS):
        nibp = [str(110 + i), str(70 + i), str(85 + i)] if s in (10, 40) else ["", "", ""]
        spo2 = 85 if i == 2 and s in DIP else 95 + s % 4
        rows.append(",".join([(T0 + timedelta(seconds=s)).isoformat().replace("+00:00", "Z"), *nibp, str(60 + i),
                              str(spo2)]))
    path = tmp_path / f"monitor-{i}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def site_file(tmp_path: Path, port: int) -> Path:
    beds = "".join(f'[[beds]]\nid = "chair-{i}"\nhl7_id = "MON-{i}"\n\n' for i in (1, 2, 3))
    path = tmp_path / "site.toml"
    path.write_text(f'name = "HL7 clinic"\n\n[hl7]\nlisten = "127.0.0.1:{port}"\n\n{beds}')
    return path


def serve(processes: Processes, site: Path, db: Path) -> subprocess.Popen[str]:
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None
    lines = [server.stdout.readline() for _ in range(4)]
    assert lines[3].startswith("HL7 (MLLP) listener on 127.0.0.1:"), lines
    return server


def monitor(processes: Processes, port: int, sender: str, path: Path, speed: float
            ) -> subprocess.Popen[str]:
    process = processes.start("simulate", "--protocol", "hl7-mllp", "--connect", f"127.0.0.1:{port}", "--id", sender,
                              "--scenario", path, "--speed", str(speed))
    assert process.stdout is not None
    assert process.stdout.readline().startswith(f"hl7-mllp monitor {sender} sending to 127.0.0.1:{port}")
    return process


def expected(path: Path) -> list[tuple[str, float, datetime]]:
    return sorted((r.vital, r.value, r.time) for r in read_session_csv(path).readings)


def stored(store: Store, bed: str) -> list[tuple[str, float, datetime]]:
    session = store.beds.open_session(bed)
    return [] if session is None else sorted((r.vital, r.value, r.time) for r in store.samples.readings(session))


def summary(processes: Processes, process: subprocess.Popen[str]) -> str:
    out, err = processes.stop(process)
    assert process.returncode == 0 and "Traceback" not in err, err
    return out.splitlines()[-1]


def test_three_monitors_and_a_stranger_on_one_listener(tmp_path: Path, processes: Processes) -> None:
    port, db = free_port(), tmp_path / "vigil.db"
    server = serve(processes, site_file(tmp_path, port), db)
    paths = {i: scenario(tmp_path, i) for i in (1, 2, 3)}
    monitors = {i: monitor(processes, port, f"MON-{i}", paths[i], speed=20) for i in (1, 2, 3)}
    stranger = monitor(processes, port, "STRANGER", paths[1], speed=20)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # what the stranger is told
        sock.sendall(encode_oru(read_session_csv(paths[1]).readings[:1], control_id="s1", sender="STRANGER"))
        answer = b""
        while not answer.endswith(b"\x1c\r"):
            chunk = sock.recv(4096)
            assert chunk, answer
            answer += chunk
    reason = "no bed has this sender's hl7_id; add one of these to its bed in site.toml: MSH-3 STRANGER"
    assert f"MSA|AR|s1|{reason}" in answer.decode()
    store = Store(db)
    try:
        for i in (1, 2, 3):
            wait_for(lambda i=i: stored(store, f"chair-{i}") == expected(paths[i]), 30, f"chair-{i}'s readings")
        session = store.beds.open_session("chair-2")
        assert session is not None
        alarms = [(e.time, e.text) for e in store.samples.events(session) if e.kind == MONITOR_ALARM]
        assert alarms == [
            (T0 + timedelta(seconds=DIP[0]), "SpO2 MDC_EVT_LO: start, active, medium priority, physiological"),
            (T0 + timedelta(seconds=DIP[-1] + 1), "SpO2 MDC_EVT_LO: end, inactive, medium priority, physiological"),
        ]
        for bed in ("chair-1", "chair-3"):
            other = store.beds.open_session(bed)
            assert other is not None and not [e for e in store.samples.events(other) if e.kind == MONITOR_ALARM]
    finally:
        store.close()
    for i, process in monitors.items():  # every message acknowledged exactly once, none left to resend
        n = SECONDS + (2 if i == 2 else 0)  # (a loaded machine may make a monitor reconnect: it says how often)
        assert summary(processes, process).startswith(f"MON-{i}: {n} messages, {n} acknowledged, 0 rejected, "
                                                      "0 unacknowledged; ")
    said = summary(processes, stranger)  # it may still be sending: its count is its own
    told = re.fullmatch(r"STRANGER: (\d+) messages, 0 acknowledged, (\d+) rejected, 0 unacknowledged; .*", said)
    assert told is not None and told[1] == told[2] != "0", said
    _, err = processes.stop(server)
    assert server.returncode == 0 and "Traceback" not in err, err
    assert err.count("HL7 message from an unknown sender at 127.0.0.1:") == 1  # logged once, however many messages
    assert "rejected (AR): MSH-3 STRANGER" in err


def test_killing_the_listener_loses_nothing_and_stores_nothing_twice(tmp_path: Path,
                                                                     processes: Processes) -> None:
    port, db = free_port(), tmp_path / "vigil.db"
    site = site_file(tmp_path, port)
    server = serve(processes, site, db)
    paths = {i: scenario(tmp_path, i) for i in (1, 2)}
    monitors = {i: monitor(processes, port, f"MON-{i}", paths[i], speed=6) for i in (1, 2)}
    store = Store(db)
    try:
        wait_for(lambda: len(stored(store, "chair-1")) >= 20, 20, "the first readings")
        server.send_signal(signal.SIGKILL)  # mid-stream: messages committed and not yet acknowledged, or neither
        server.communicate()
        wait_for(lambda: all(p.poll() is None for p in monitors.values()), 1, "the monitors keep measuring")
        server = serve(processes, site, db)
        for i in (1, 2):
            wait_for(lambda i=i: stored(store, f"chair-{i}") == expected(paths[i]), 40, f"chair-{i} complete")
        sessions = {store.beds.open_session(f"chair-{i}") for i in (1, 2, 3)}
        assert len(sessions) == 3  # each bed's one session continued after the restart
    finally:
        store.close()
    for process in monitors.values():
        line = summary(processes, process)
        assert " 0 unacknowledged; " in line and ", 0 resent" not in line, line  # resent after the kill
    processes.stop(server)


def test_acquire_listens_for_one_bed_and_takes_only_its_sender(tmp_path: Path,
                                                               processes: Processes) -> None:
    port, db, path = free_port(), tmp_path / "vigil.db", scenario(tmp_path, 1)
    acquire = processes.start("acquire", "--protocol", "hl7-mllp", "--listen", f"127.0.0.1:{port}", "--hl7-id",
                              "mon-1", "--bed", "chair-9", "--db", db)
    assert acquire.stdout is not None
    assert acquire.stdout.readline() == (f"session 1: listening for HL7 (MLLP) on 127.0.0.1:{port} for sender mon-1; "
                                         "Ctrl+C to stop\n")
    sender = monitor(processes, port, "MON-1", path, speed=30)
    other = monitor(processes, port, "MON-2", path, speed=30)
    store = Store(db)
    try:
        wait_for(lambda: stored(store, "chair-9") == expected(path), 30, "the bed's readings")
    finally:
        store.close()
    summary(processes, sender)
    summary(processes, other)
    out, err = processes.stop(acquire)
    assert acquire.returncode == 0, err
    assert out.splitlines()[-1].startswith("rejected ") and "unknown sender" in out and "MSH-3 MON-2" in out


def test_listener_usage_errors_are_one_line(tmp_path: Path) -> None:
    from support import run_vigil

    db = tmp_path / "vigil.db"
    cases = [
        (["acquire", "--protocol", "ge-s5", "--listen", "127.0.0.1:0", "--db", db],
         "vigil acquire: error: --listen and --connect are for --protocol hl7-mllp, not ge-s5\n"),
        (["acquire", "--protocol", "hl7-mllp", "--listen", "127.0.0.1", "--db", db],
         "vigil acquire: error: --listen: expected HOST:PORT (e.g. 0.0.0.0:2575), got '127.0.0.1'\n"),
        (["acquire", "--protocol", "hl7-mllp", "--listen", "127.0.0.1:0", "--port", "/dev/ttyS0", "--db", db],
         "vigil acquire: error: give --port (a serial port) or --listen (HL7 monitors connecting), not both\n"),
        (["simulate", "--protocol", "hl7-mllp", "--connect", "127.0.0.1:9", "--id", "A|B"],
         "vigil simulate: error: --id must be printable ASCII without HL7 delimiters (| ^ ~ \\ &), got 'A|B'\n"),
        (["simulate", "--protocol", "hl7-mllp", "--id", "A"], "vigil simulate: error: --id goes with --connect\n"),
    ]
    for args, expected_err in cases:
        result = run_vigil(*args)
        assert (result.returncode, result.stderr) == (2, expected_err), args
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        site = site_file(tmp_path, taken)
        result = run_vigil("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
        assert result.returncode == 2
        assert result.stderr.startswith(f"vigil serve: error: cannot listen for HL7 on 127.0.0.1:{taken} (")
        assert result.stderr.endswith(f"change [hl7] listen in {site}\n")
