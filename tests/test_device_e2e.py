"""End to end on real pseudo-terminals: `vigil simulate` speaking each protocol to `vigil record`,
`vigil acquire` and `vigil monitor`, as separate processes, as a tester would run them."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from support import (
    NIBP_AT,
    SCENARIO_S,
    T0,
    DrivenMonitor,
    Processes,
    Pty,
    free_port,
    run_vigil,
    run_vigil_with_file_limit,
    simulate,
    wait_for,
    wait_until,
)

from adapters.files.csv_reader import read_session_csv
from adapters.files.csv_recorder import journal_path
from adapters.model.reading import LINK_LOST, LINK_RESTORED, Reading
from adapters.protocols.hl7_mllp.message import encode_oru
from monitor.limits.model import load_preset
from monitor.session import service
from monitor.store import Store


def start_monitor(processes: Processes, scenario: Path, tmp_path: Path, speed: float
                  ) -> tuple[subprocess.Popen[str], Path]:
    """An HL7 emulator and `vigil monitor` on it, with a fresh database and any free HTTP port."""
    link, db = tmp_path / "monitor", tmp_path / "vigil.db"
    simulate(processes, "hl7-mllp", scenario, link, speed=speed)
    return processes.start("monitor", "--port", link, "--protocol", "hl7-mllp", "--db", db, "--http-port", "0",
                           "--no-auth"), db


@pytest.mark.parametrize("protocol", ["ge-s5", "hl7-mllp", "philips-mib"])
def test_simulate_then_record_reproduces_the_scenarios_values_and_times(
    protocol: str, scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    link = tmp_path / "monitor"
    emulator = simulate(processes, protocol, scenario, link, speed=30)
    out, raw = tmp_path / "recorded.csv", tmp_path / "capture.raw"
    # Device times are kept: the emulated Philips monitor's clock is UTC, and --tz says so (GE and HL7 ignore it).
    result = run_vigil("record", "--port", link, "--protocol", protocol, "--interval", "1", "--watchdog", "5",
                       "--clock", "device", "--tz", "UTC", "--out", out, "--duration", "14", "--raw-out", raw)
    assert result.returncode == 0, result.stderr
    processes.stop(emulator)
    expected = read_session_csv(scenario)
    recorded = read_session_csv(out)
    key = lambda r: (r.time, r.vital, r.value)  # noqa: E731
    assert sorted(map(key, recorded.readings)) == sorted(map(key, expected.readings))
    # The raw capture holds the same session: `vigil decode` reads it back to the same readings.
    decoded_csv = tmp_path / "decoded.csv"
    assert run_vigil("decode", raw, "--protocol", protocol, "--tz", "UTC", "--out", decoded_csv).returncode == 0
    assert sorted(map(key, read_session_csv(decoded_csv).readings)) == sorted(map(key, expected.readings))
    # Each cuff measurement arrives once, at its own time, although GE and Philips repeat it in every record.
    assert [r.time for r in recorded.readings if r.vital == "sbp"] == [T0 + timedelta(seconds=s) for s in NIBP_AT]
    # No protocol carries dose events; the only events are the watchdog's, once the scenario is over.
    end = T0 + timedelta(seconds=SCENARIO_S - 1)
    assert all(e.kind == "note" and e.text.startswith("link lost: no bytes") and e.time > end for e in recorded.events)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # on SQLite: the tests of `monitor` and the stream
def test_acquisition_and_a_dashboard_in_two_processes_share_a_postgresql_database(
    scenario: Path, tmp_path: Path, processes: Processes, db: str
) -> None:
    """The chair's side and the screen's side as separate processes on one PostgreSQL: what `acquire` stores
    from the emulator reaches the dashboard's live stream as it arrives, each reading once."""
    link, port = tmp_path / "monitor", free_port()
    simulate(processes, "ge-s5", scenario, link, speed=1)
    acquire = processes.start("acquire", "--port", link, "--protocol", "ge-s5", "--interval", "1", "--db", db)
    assert acquire.stdout is not None and "session 1: acquiring from" in acquire.stdout.readline()
    dashboard = processes.start("dashboard", "--db", db, "--session", "1", "--port", str(port), "--no-auth")
    url = f"http://127.0.0.1:{port}/api/stream?session=1"
    response = wait_for(lambda: dashboard.poll() is None and reachable(url), 30, "the dashboard to serve")
    streamed: list[list] = []
    with response:
        lines = response.iter_lines(decode_unicode=True)
        while len([r for r in streamed if r[1] == "hr"]) < 5:  # five seconds of HR, live
            line = next(lines)
            if line.startswith("data: "):
                streamed += json.loads(line[6:]).get("r", [])
    store = Store(db)
    try:
        stored = [r.value for r in store.samples.readings_of(1, ["hr"])]
    finally:
        store.close()
    hr = [float(value) for _, vital, value in streamed if vital == "hr"]
    # What was stored, in order, from where the stream started: none skipped, none twice.
    assert any(stored[i:i + len(hr)] == hr for i in range(len(stored) - len(hr) + 1)), (hr, stored)
    for process in (dashboard, acquire):
        _, err = processes.stop(process)
        assert process.returncode == 0 and "Traceback" not in err, err


def reachable(url: str) -> requests.Response | None:
    try:
        return requests.get(url, stream=True, timeout=10)
    except requests.ConnectionError:
        return None


@pytest.mark.parametrize("protocol", ["ge-s5", "philips-mib"])  # Philips: a new association after the reconnect
def test_unplugged_emulator_raises_link_loss_and_signal_alarm_then_reconnects(
    protocol: str, scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    link, db = tmp_path / "monitor", tmp_path / "vigil.db"
    watchdog_s = 3.0
    simulate(processes, protocol, scenario, link, speed=1, faults="unplug=6+3")
    acquire = processes.start("acquire", "--port", link, "--protocol", protocol, "--interval", "1",
                              "--watchdog", str(watchdog_s), "--db", db)
    store = Store(db)
    try:
        def restored_and_flowing() -> bool:
            assert acquire.poll() is None, acquire.communicate()[1]  # gone: say why, not "timed out" 45 s later
            events = store.samples.events(1)
            back = [e.time for e in events if e.kind == LINK_RESTORED]
            return bool(back) and any(r.time > back[0] for r in store.samples.readings(1, back[0]))

        wait_for(lambda: db.exists() and restored_and_flowing(), 45, "reconnect and data after the unplug")
        out, err = processes.stop(acquire)
        assert acquire.returncode == 0, err
        assert "Traceback" not in err
        events = store.samples.events(1)
        assert [e.kind for e in events] == [LINK_LOST, LINK_RESTORED]
        lost, restored = events
        readings = store.samples.readings(1)
        last_before = max(r.time for r in readings if r.time <= lost.time)
        assert (lost.time - last_before).total_seconds() <= watchdog_s
        (alarm,) = [a.episode for a in store.alarms.since(1) if a.episode.kind == "technical"]
        assert (alarm.vital, alarm.direction, alarm.source) == ("signal", "loss", protocol)
        assert alarm.onset == last_before and alarm.announced == lost.time
        assert alarm.end is not None and alarm.end >= restored.time
        assert any(r.time > restored.time for r in readings)
        assert "session 1:" in out
    finally:
        store.close()


def test_a_malformed_hl7_message_costs_only_itself_and_acquisition_goes_on(tmp_path: Path, processes: Processes
                                                                          ) -> None:
    """An OBX-3 of 4301 digits once made int() raise: `acquire` exited 2 and acquired nothing more."""
    db, monitor = tmp_path / "vigil.db", Pty()
    try:
        # The watchdog far off: the monitor falls silent after three messages, however slowly they are read.
        acquire = processes.start("acquire", "--port", monitor.path, "--protocol", "hl7-mllp", "--watchdog", "120",
                                  "--db", db)
        assert acquire.stdout is not None and "session 1: acquiring from" in acquire.stdout.readline()
        now = datetime.now(UTC).replace(microsecond=0)

        def oru(seconds: int, control_id: str) -> bytes:
            t = now + timedelta(seconds=seconds)
            return encode_oru([Reading(t, "hr", 72.0), Reading(t, "spo2", 97.0)], control_id=control_id)

        poison = oru(1, "2").replace(b"|147842^", b"|" + b"9" * 4301 + b"^")  # the heart rate's MDC code
        assert b"9" * 4301 in poison
        store = Store(db)
        try:
            for message in (oru(0, "1"), poison, oru(2, "3")):
                monitor.send(message)
            wait_for(lambda: acquire.poll() is not None or len(store.samples.readings(1)) == 5, 20,
                     "the readings around the malformed message")
            assert acquire.poll() is None, acquire.communicate()[1]  # still acquiring
            out, err = processes.stop(acquire)
            assert acquire.returncode == 0, err
            assert "Traceback" not in err and "error" not in err and "session 1: 5 readings, 0 events" in out
            got = [(r.vital, (r.device_time - now).total_seconds()) for r in store.samples.readings(1) if r.device_time]
            # Only the OBX with the malformed code is lost; no link loss either (0 events).
            assert got == [("hr", 0), ("spo2", 0), ("spo2", 1), ("hr", 2), ("spo2", 2)]
        finally:
            store.close()
    finally:
        monitor.hang_up()


def test_monitor_serves_the_bed_view_while_the_emulator_feeds_the_store(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    monitor, db = start_monitor(processes, scenario, tmp_path, speed=5)
    assert monitor.stdout is not None
    assert "session 1: acquiring from" in monitor.stdout.readline()
    url = monitor.stdout.readline().split()[2]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as page:
        assert page.status == 200
    store = Store(db)
    try:
        wait_for(lambda: len(store.samples.readings(1)) >= 40, 20, "readings from the emulator in the store")
    finally:
        store.close()
    _, err = processes.stop(monitor)
    assert "Traceback" not in err


def test_monitor_stops_serving_when_acquisition_fails_rather_than_show_frozen_numbers(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    monitor, db = start_monitor(processes, scenario, tmp_path, speed=2)
    store = Store(db)
    try:
        wait_for(lambda: store.samples.readings(1), 20, "the first readings")
        with sqlite3.connect(db) as conn:  # the database breaks under the running acquisition
            conn.execute("DROP TABLE readings")
    finally:
        store.close()
    _, err = monitor.communicate(timeout=20)
    assert monitor.returncode == 2
    assert "vigil monitor: error: acquisition failed, dashboard stopped: " in err and "readings" in err
    assert "Traceback" not in err


def test_record_stopped_by_sigterm_writes_everything_it_received(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    """`kill` is how a service manager stops a capture: the CSV is finished, in time order, with all it received."""
    link, out = tmp_path / "monitor", tmp_path / "recorded.csv"
    simulate(processes, "hl7-mllp", scenario, link, speed=10)
    record = processes.start("record", "--port", link, "--protocol", "hl7-mllp", "--clock", "device", "--out", out)
    wait_for(lambda: journal_path(out).exists() and journal_path(out).read_text().count("\n") > 20, 40,
             "twenty rows in the capture journal")
    assert record.poll() is None
    record.send_signal(signal.SIGTERM)
    stdout, stderr = record.communicate(timeout=20)
    assert record.returncode == 0, stderr
    recorded = read_session_csv(out).readings
    assert f"recorded {len(recorded)} readings" in stdout and len(recorded) > 40
    assert not journal_path(out).exists()


def test_record_killed_hard_has_everything_it_received_on_the_disk(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    """A `kill -9` or a power cut: the journal holds every batch received; `--recover` makes it the CSV, and
    until then the file that was at --out is untouched."""
    link, out = tmp_path / "monitor", tmp_path / "recorded.csv"
    out.write_text("time,hr\n2026-11-19T09:00:00Z,70\n")  # yesterday's capture
    simulate(processes, "hl7-mllp", scenario, link, speed=10)
    record = processes.start("record", "--port", link, "--protocol", "hl7-mllp", "--clock", "device", "--out", out)
    journal = journal_path(out)
    wait_for(lambda: journal.exists() and journal.read_text().count("\n") > 20, 40, "twenty rows in the journal")
    record.kill()
    record.communicate(timeout=20)
    assert out.read_text() == "time,hr\n2026-11-19T09:00:00Z,70\n"
    again = run_vigil("record", "--port", link, "--protocol", "hl7-mllp", "--out", out)
    assert again.returncode == 2 and f"{journal} exists" in again.stderr and "--recover" in again.stderr
    rows_on_disk = journal.read_text().count("\n") - 1
    result = run_vigil("record", "--recover", "--out", out)
    assert result.returncode == 0, result.stderr
    recovered = read_session_csv(out).readings
    assert rows_on_disk >= 20 and f"recovered {rows_on_disk} rows" in result.stdout
    # Exactly the scenario's readings up to the last one received: nothing missing, nothing invented.
    last = max(r.time for r in recovered)
    key = lambda r: (r.time, r.vital, r.value)  # noqa: E731
    assert sorted(map(key, recovered)) == sorted(key(r) for r in read_session_csv(scenario).readings if r.time <= last)


def test_record_onto_a_full_disk_fails_in_one_line_and_keeps_what_it_received(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    link, out = tmp_path / "monitor", tmp_path / "recorded.csv"
    simulate(processes, "hl7-mllp", scenario, link, speed=10)
    result = run_vigil_with_file_limit(3000, "record", "--port", link, "--protocol", "hl7-mllp", "--clock", "device",
                                       "--out", out, "--duration", "20")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    journal = journal_path(out)
    assert result.stderr.strip().splitlines()[-1] == (
        f"vigil record: error: cannot write {journal}: File too large; what was received is kept there "
        f"(`vigil record --recover --out {out}` finishes it)")
    assert not out.exists()
    assert run_vigil("record", "--recover", "--out", out).returncode == 0
    assert len(read_session_csv(out).readings) > 20


def test_acquire_killed_three_times_continues_its_beds_one_session_with_every_reading_once(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    """SIGKILL, restart: the bed keeps one session, its set-up, and each reading sent exactly once — the
    NIBP result the monitor still shows after a restart included."""
    db = tmp_path / "vigil.db"
    monitor = DrivenMonitor(scenario)
    args = ("acquire", "--port", monitor.pty.path, "--protocol", "ge-s5", "--interval", "1", "--watchdog", "60",
            "--clock", "device", "--bed", "chair-1", "--db", db)
    store = Store(db)
    changed = load_preset("iv-ketamine").to_dict()
    changed["vitals"]["hr"]["high"] = 100.0

    def stored(second: int) -> bool:
        sid = store.beds.open_session("chair-1")
        t = T0 + timedelta(seconds=second)
        return sid is not None and bool(store.samples.readings(sid, t, t))

    # (resume at, stop at, kill): killed 0.3 s after an NIBP result is stored, and once between results.
    runs = [(0, 30, True), (51, 70, True), (75, 90, True), (111, SCENARIO_S - 1, False)]
    sessions = []
    try:
        for resume, stop, kill in runs:
            acquire = processes.start(*args)
            monitor.take_request(resume)
            for second in range(resume, stop + 1):
                monitor.send(second)
                wait_until(lambda second=second: stored(second), f"the record of second {second} to be stored")
                if second == 10 and resume == 0:  # set up on screen before the first kill
                    sid = store.beds.open_session("chair-1")
                    assert sid is not None
                    wall = datetime.now(UTC)
                    service.set_up(store, sid, "nurse.a", wall, type_name="iv-ketamine", patient_label="MRN-7",
                                   bed="Chair 1", preset=None)
                    store.limits.save(sid, changed, T0 + timedelta(seconds=10), "dr.a")
            assert acquire.stdout is not None
            sessions.append(acquire.stdout.readline().split(":")[0])
            if kill:
                time.sleep(0.3)
                acquire.kill()
                acquire.communicate()
            else:
                _, err = processes.stop(acquire)
                assert acquire.returncode == 0 and "Traceback" not in err, err
        assert sessions == ["session 1"] * len(runs)
        (only,) = store.sessions.listing()
        info = store.sessions.info(only.id)
        assert (info.bed_id, info.session_type, info.patient_label, info.ended) == ("chair-1", "iv-ketamine",
                                                                                    "MRN-7", None)
        assert [(v.version, v.who, v.data) for v in store.limits.versions(only.id)][1:] == [(2, "dr.a", changed)]
        # Every reading of every record sent, exactly once; each cuff result once, at its measurement time.
        sent = {T0 + timedelta(seconds=s) for s in monitor.sent}
        expected = [r for r in read_session_csv(scenario).readings if r.time in sent]
        key = lambda r: (r.time, r.vital, r.value)  # noqa: E731
        assert sorted(map(key, store.samples.readings(only.id))) == sorted(map(key, expected))
        assert [r.time for r in store.samples.readings_of(only.id, ["sbp"])] == [T0 + timedelta(seconds=s)
                                                                                for s in NIBP_AT]
    finally:
        store.close()
        monitor.pty.hang_up()
