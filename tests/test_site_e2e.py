"""`vigil serve` end to end: a site of beds fed by `vigil simulate` over real ptys, plus a bed whose port does not
exist and a replayed recording, in one process as a clinic would run it."""

from __future__ import annotations

import os
import re
import select
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from browser_support import text_of
from selenium.webdriver.common.by import By
from support import (
    NIBP_AT,
    ROOT,
    SCENARIO_S,
    T0,
    DrivenMonitor,
    Processes,
    json_strings,
    run_vigil,
    simulate,
    wait_for,
    wait_until,
)

from adapters.files.csv_reader import read_session_csv
from adapters.model.reading import LINK_LOST, Reading
from monitor.limits.model import load_preset
from monitor.session import service
from monitor.store import Store
from monitor.web import urls

RECORDING = ROOT / "sample_data" / "iv_ketamine.csv"
SITE = """\
name = "Riverside clinic"

[[beds]]
id = "chair-1"
label = "Chair 1"
port = "{one}"
protocol = "hl7-mllp"

[[beds]]
id = "chair-2"
port = "{two}"
protocol = "hl7-mllp"
type = "iv-ketamine"

[[beds]]
id = "chair-3"
port = "{missing}"
protocol = "ge-s5"

[[beds]]
id = "training"
replay = "{recording}"
speed = "max"
"""


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read()


def test_serve_runs_every_bed_of_the_site_and_a_missing_port_takes_only_its_own_bed_offline(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    one, two, missing = tmp_path / "monitor-1", tmp_path / "monitor-2", tmp_path / "no-such-tty"
    simulate(processes, "hl7-mllp", scenario, one, speed=5)
    simulate(processes, "hl7-mllp", scenario, two, speed=5)
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text(SITE.format(one=one, two=two, missing=missing, recording=RECORDING))
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None
    lines = [server.stdout.readline() for _ in range(5)]
    assert lines[:2] == ["bed chair-1: session 1\n", "bed chair-2: session 2\n"], lines
    assert lines[2].startswith(f"bed chair-3: offline: cannot open {missing}") and "retrying" in lines[2], lines
    assert lines[3] == "bed training: session 4\n"
    base = lines[4].split()[2].rstrip("/")
    store = Store(db)
    try:
        sessions = {bed: store.beds.open_session(bed) for bed in ("chair-1", "chair-2", "chair-3")}
        assert sessions == {"chair-1": 1, "chair-2": 2, "chair-3": 3}
        for bed in ("chair-1", "chair-2"):
            wait_for(lambda bed=bed: len(store.samples.readings(sessions[bed])) >= 30, 15, f"readings of {bed}")
            assert store.sessions.info(sessions[bed]).bed_id == bed
        assert store.sessions.info(2).session_type == "iv-ketamine"
        lost = wait_for(lambda: [e for e in store.samples.events(3) if e.kind == LINK_LOST], 10, "chair-3 offline")
        assert "no such device" in lost[0].text
        assert store.samples.readings(3) == []
        wait_for(lambda: store.samples.counts(4)[0] > 1000, 10, "the replayed recording")
        assert store.sessions.info(4).session_type == "iv-ketamine"  # as its dose events imply
        for bed, label in (("chair-1", "Chair 1"), ("chair-2", "chair-2"), ("chair-3", "chair-3"),
                           ("training", "training")):
            get(base + urls.site_bed(bed))  # each bed's view, on the one server
            assert label in json_strings(get(base + urls.site_bed(bed) + "_dash-layout"))
        central = json_strings(get(base + urls.SITE + "_dash-layout"))  # the central view: a tile opening each bed
        assert all(urls.site_bed(bed) in central for bed in [*sessions, "training"]) and "Riverside clinic" in central
    finally:
        store.close()
    _, err = processes.stop(server)  # SIGTERM stops every bed and the server
    assert server.returncode == 0, err
    assert "Traceback" not in err and "bed chair-3 is offline" in err


def test_a_bad_site_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text(SITE.format(one="/dev/ttyUSB0", two="/dev/ttyUSB0", missing="/dev/ttyUSB2", recording=RECORDING))
    result = run_vigil("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert result.returncode == 2
    assert result.stderr == (f"vigil serve: error: {site}, line 11: beds[2].port: '/dev/ttyUSB0' is already the port "
                             "of chair-1 (line 6)\n")
    assert not db.exists()


def test_each_beds_view_in_the_browser_shows_its_own_bed(dash_duo, tmp_path: Path, processes: Processes
                                                         ) -> None:
    recordings = {"chair-a": ROOT / "sample_data" / "hypertensive.csv",
                  "chair-b": ROOT / "sample_data" / "esketamine.csv"}
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text("".join(f'[[beds]]\nid = "{bed}"\nreplay = "{path}"\nspeed = "max"\n\n'
                            for bed, path in recordings.items()))
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None
    base = [server.stdout.readline() for _ in range(3)][2].split()[2].rstrip("/")
    for bed, path in recordings.items():
        last = {r.vital: r.value for r in read_session_csv(path).readings}
        dash_duo.driver.get(base + urls.site_bed(bed))
        # its stream, under the bed's prefix (a short recording may be over by the time the page is up)
        wait_for(lambda: text_of(dash_duo, "link-status") in ("Live", "Replay ended"), 30, "the bed's stream")
        dash_duo.wait_for_text_to_equal("#num-hr", f"{last['hr']:g}", timeout=15)
        dash_duo.wait_for_text_to_equal("#num-bp", f"{last['sbp']:g}/{last['dbp']:g}", timeout=5)


class BedWatch:
    """What the store holds of one bed, read incrementally: the readings of whichever session is open on it."""

    def __init__(self, store: Store, bed: str) -> None:
        self.store, self.bed = store, bed
        self.after = 0
        self.device_times: set[datetime] = set()

    def stored(self, second: int) -> bool:
        """Whether a reading of the record the monitor sent for scenario second `second` is stored."""
        sid = self.store.beds.open_session(self.bed)
        if sid is not None:
            for stored in self.store.samples.readings_since(sid, self.after):
                self.after = stored.id
                self.device_times.add(stored.reading.device_time)
        return T0 + timedelta(seconds=second) in self.device_times


def as_sent(r: Reading) -> tuple[datetime | None, str, float]:
    """A reading by the device's time of what it measured (the cuff's own time for NIBP): on the host clock a
    stored reading's `time` is when it arrived, so the device's are what identify it."""
    return (r.measured_at or r.device_time, r.vital, r.value)


SETUPS = {"chair-1": ("iv-ketamine", "MRN-1"), "chair-2": ("esketamine", "MRN-2"),
          "chair-3": ("other", "MRN-3"), "chair-4": ("iv-ketamine", "MRN-4")}


def test_serve_killed_three_times_continues_each_beds_one_session_with_every_reading_once(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    """Four beds, two GE S/5 and two HL7 monitors on ptys; `vigil serve` SIGKILLed three times (0.3 s after an
    NIBP result is stored, and once between results) and restarted: each bed keeps one session with its set-up
    and every reading sent while a reader was there, exactly once."""
    monitors = {bed: DrivenMonitor(scenario, protocol)
                for bed, protocol in zip(SETUPS, ("ge-s5", "hl7-mllp", "ge-s5", "hl7-mllp"), strict=True)}
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text("".join(f'[[beds]]\nid = "{bed}"\nport = "{m.pty.path}"\nprotocol = "{m.protocol}"\n'
                            + ("interval = 1\n" if m.protocol == "ge-s5" else "") + "\n"
                            for bed, m in monitors.items()))
    store = Store(db)
    watches = {bed: BedWatch(store, bed) for bed in monitors}
    changed = load_preset("iv-ketamine").to_dict()
    changed["vitals"]["hr"]["high"] = 100.0
    runs = [(0, 30, True), (51, 70, True), (75, 90, True), (111, SCENARIO_S - 1, False)]
    try:
        for resume, stop, kill in runs:
            server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
            assert server.stdout is not None
            started = [server.stdout.readline() for _ in monitors]  # every port is open once these are out
            assert all(line.startswith(f"bed {bed}: session ") for bed, line in zip(monitors, started, strict=True)), (
                started, server.stderr.read() if server.poll() is not None else "")
            for monitor in monitors.values():
                monitor.take_request(resume)
            for second in range(resume, stop + 1):
                for monitor in monitors.values():
                    monitor.send(second)
                # A restarted server's first batch waits for its first imports and queries: on a loaded machine
                # that alone has taken over 10 s, so the first record after each start gets longer.
                for bed, watch in watches.items():
                    wait_until(lambda watch=watch, second=second: watch.stored(second),
                               f"{bed}'s record of second {second} to be stored", 10 if second > resume else 40)
                if second == 10 and resume == 0:  # each bed set up before the first kill
                    for bed, (type_name, patient) in SETUPS.items():
                        sid = store.beds.open_session(bed)
                        assert sid is not None
                        service.set_up(store, sid, "nurse.a", datetime.now(UTC), type_name=type_name,
                                       patient_label=patient, bed=bed, preset=None)
                        store.limits.save(sid, changed, datetime.now(UTC), "dr.a")
            if kill:
                time.sleep(0.3)
                server.kill()
                server.communicate()
            else:
                _, err = processes.stop(server)
                assert server.returncode == 0 and "Traceback" not in err, err
        expected = read_session_csv(scenario).readings
        for bed, (type_name, patient) in SETUPS.items():
            (only,) = [s for s in store.sessions.listing() if store.sessions.info(s.id).bed_id == bed]
            info = store.sessions.info(only.id)
            assert (info.session_type, info.patient_label, info.ended) == (type_name, patient, None), bed
            assert [(v.who, v.data) for v in store.limits.versions(only.id)][1:] == [("dr.a", changed)], bed
            # Every reading of every record sent, exactly once; each cuff result once, at its measurement time.
            sent = {T0 + timedelta(seconds=s) for s in monitors[bed].sent}
            want = sorted((r.time, r.vital, r.value) for r in expected if r.time in sent)
            assert sorted(map(as_sent, store.samples.readings(only.id))) == want, bed
            assert [r.measured_at or r.device_time for r in store.samples.readings_of(only.id, ["sbp"])] == [
                T0 + timedelta(seconds=s) for s in NIBP_AT], bed
    finally:
        store.close()
        for monitor in monitors.values():
            monitor.pty.hang_up()


class Pushing:
    """An HL7 monitor (`DrivenMonitor`) pushing one message per scenario second every 0.2 s from a thread, while
    `flowing` is set; the acknowledgements it gets back are read and dropped."""

    def __init__(self, monitor: DrivenMonitor) -> None:
        self.monitor = monitor
        self.flowing, self.done = threading.Event(), threading.Event()
        self.sending = threading.Lock()  # held while a message goes out: `pause` waits for it, however slow
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        second = 0
        while not self.done.wait(0.2):
            with self.sending:
                if self.flowing.is_set() and second < SCENARIO_S:
                    self.monitor.send(second)
                    second += 1
            while select.select([self.monitor.pty.master], [], [], 0)[0]:
                os.read(self.monitor.pty.master, 1 << 16)

    def pause(self) -> list[int]:
        """Stop sending; the seconds sent so far."""
        self.flowing.clear()
        with self.sending:  # a send under way has finished; none starts after this
            return list(self.monitor.sent)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def set_up_on_screen(dash_duo, **values: str) -> None:
    """Fill the bed view's set-up form (setup-type, setup-patient) and save it."""
    for component, value in values.items():
        dash_duo.driver.execute_script("window.dash_clientside.set_props(arguments[0], arguments[1]);",
                                       component.replace("_", "-"), {"value": value})
    dash_duo.find_element("#setup-save").click()


def session_record(base: str, db: Path, session_id: int, out: Path) -> tuple[bytes, bytes]:
    """The session's record as the screen links it (the HTML report, but for the minute it was generated in
    its footer) and as `vigil export` writes it."""
    result = run_vigil("export", str(session_id), "--db", db, "--out", out)
    assert result.returncode == 0, result.stderr
    report = get(base + urls.report_html(session_id))
    assert report.count(b" by Vigil.</footer>") == 1
    return re.sub(rb"Generated [0-9: -]+ by Vigil", b"Generated", report), out.read_bytes()


def test_end_session_on_screen_then_new_readings_open_a_second_session_set_up_on_screen(
    dash_duo, scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    monitor = DrivenMonitor(scenario, "hl7-mllp")
    site, db = tmp_path / "site.toml", tmp_path / "vigil.db"
    site.write_text(f'[[beds]]\nid = "chair-1"\nlabel = "Chair 1"\nport = "{monitor.pty.path}"\n'
                    'protocol = "hl7-mllp"\n')
    server = processes.start("serve", "--config", site, "--db", db, "--http-port", "0", "--no-auth")
    assert server.stdout is not None
    lines = [server.stdout.readline() for _ in range(2)]
    assert lines[0] == "bed chair-1: session 1\n", lines
    base = lines[1].split()[2].rstrip("/")
    pushing = Pushing(monitor)
    store = Store(db)
    try:
        pushing.flowing.set()
        view = base + urls.site_bed("chair-1")
        dash_duo.driver.get(view)
        wait_for(lambda: text_of(dash_duo, "link-status") == "Live", 15, "the bed's stream")
        set_up_on_screen(dash_duo, setup_patient="MRN-1")
        wait_for(lambda: "Patient MRN-1" in text_of(dash_duo, "session-patient"), 10, "session 1's patient label")

        # End session on the screen, while the monitor is between messages.
        sent = pushing.pause()
        watch = BedWatch(store, "chair-1")
        wait_until(lambda: watch.stored(sent[-1]), "the last message sent to be stored")
        dash_duo.find_element("#end-button").click()
        wait_for(lambda: "The session may end now." in text_of(dash_duo, "readiness"), 10, "no override needed")
        dash_duo.find_element("#end-confirm").click()
        wait_for(lambda: "Session ended" in text_of(dash_duo, "next-checkpoint"), 15, "the session shown ended")
        assert store.beds.open_session("chair-1") is None
        before = session_record(base, db, 1, tmp_path / "before.csv")

        # New readings: the bed's second session, set up on the screen.
        pushing.flowing.set()
        wait_for(lambda: store.beds.open_session("chair-1") == 2, 10, "the next reading to open session 2")
        dash_duo.driver.get(view)
        wait_for(lambda: text_of(dash_duo, "link-status") == "Live", 15, "session 2's stream")
        set_up_on_screen(dash_duo, setup_type="iv-ketamine", setup_patient="MRN-2")
        wait_for(lambda: "Patient MRN-2" in text_of(dash_duo, "session-patient"), 10, "session 2's patient label")
        more = pushing.pause()
        wait_until(lambda: BedWatch(store, "chair-1").stored(more[-1]), "the last message sent to be stored")

        first, second = store.sessions.info(1), store.sessions.info(2)
        assert (second.bed_id, second.session_type, second.patient_label, second.ended) == (
            "chair-1", "iv-ketamine", "MRN-2", None)
        assert (first.patient_label, first.ended is not None) == ("MRN-1", True)
        assert session_record(base, db, 1, tmp_path / "after.csv") == before  # byte for byte
        # Every message in exactly one session: those before the end in the first, the rest in the second.
        on_device = [sorted({r.device_time for r in store.samples.readings(sid)}) for sid in (1, 2)]
        assert on_device == [[T0 + timedelta(seconds=s) for s in sent],
                             [T0 + timedelta(seconds=s) for s in more[len(sent):]]]
        assert dash_duo.driver.find_elements(By.ID, "session-patient")
    finally:
        pushing.stop()
        store.close()
        monitor.pty.hang_up()
    _, err = processes.stop(server)
    assert server.returncode == 0 and "Traceback" not in err, err
