"""Device emulators: byte-exact protocol output from a scenario, checked with the real decoders, on real ptys.

The protocol cores are driven on the scenario clock directly; the pty tests run the host in a thread at
high speed with a pyserial reader on the slave, and always poll against deadlines.
"""

from __future__ import annotations

import os
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import serial
from support import wait_until

from adapters.model.reading import Reading
from adapters.model.vitals import NIBP_CODES
from adapters.protocols.ge_s5.decoder import GeS5Decoder
from adapters.protocols.ge_s5.emulator import GeS5Monitor
from adapters.protocols.ge_s5.framing import checksum, frame, unescape
from adapters.protocols.ge_s5.records import (
    CLASS_DENY_BASIC,
    CLASS_REQ_EXT1,
    CLASS_REQ_EXT3,
    NIBP_AUTO,
    NIBP_GROUP_OFFSET,
    NIBP_MEASURING,
    NIBP_OLDER_THAN_60S,
    PH_60S_TREND,
    PH_DISPL,
    encode_phdb,
    encode_request,
    group_status,
    parse_header,
    parse_phdb,
)
from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder
from adapters.protocols.hl7_mllp.emulator import Hl7Monitor
from adapters.protocols.philips_mib.decoder import PhilipsMibDecoder
from adapters.protocols.philips_mib.emulator import PhilipsMibMonitor
from adapters.simulation import Faults, PtyHost, Scenario, load_scenario, simulate
from adapters.simulation.mllp_client import MllpClient
from adapters.simulation.physiology import DEFAULT_START

T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
DEADLINE = 8.0


def at(seconds: float, start: datetime = T0) -> datetime:
    return start + timedelta(seconds=seconds)


def request(interval: int, classes: int = 0, subtype: int = PH_DISPL) -> bytes:
    return frame(encode_request(subtype, interval, classes))


def records(frames: list[bytes]) -> list[bytes]:
    """Unframed records; asserts every frame's checksum verifies."""
    out = []
    for f in frames:
        assert f[0] == f[-1] == 0x7E
        raw = unescape(f[1:-1])
        assert raw is not None and checksum(raw[:-1]) == raw[-1]
        out.append(raw[:-1])
    return out


def triples(readings: list[Reading]) -> list[tuple[datetime, str, float]]:
    return sorted((r.time, r.vital, r.value) for r in readings if isinstance(r, Reading))


@pytest.fixture(scope="module")
def hypertensive() -> Scenario:
    return load_scenario("hypertensive")


# --- scenario ------------------------------------------------------------------------------------------


def test_scenario_lookups() -> None:
    readings = [Reading(at(t), "hr", 60.0 + t) for t in (0, 1, 2, 5)]
    readings += [Reading(at(3), "sbp", 120.0), Reading(at(3), "dbp", 80.0), Reading(at(4), "spo2", 97.5)]
    s = Scenario(readings, [])
    assert (s.start, s.end) == (at(0), at(5))
    assert s.continuous_at(at(2), 1) == {"hr": 62.0}
    assert s.continuous_at(at(4.5), 1) == {"spo2": 97.5}  # hr from t=2 is outside (3.5, 4.5]
    assert s.continuous_at(at(4.5), 3) == {"hr": 62.0, "spo2": 97.5}
    assert s.nibp_measurements == [(at(3), {"sbp": 120.0, "dbp": 80.0})]
    assert [(t, [r.vital for r in rs]) for t, rs in s.instants_between(at(1), at(4))] == [
        (at(2), ["hr"]), (at(3), ["sbp", "dbp"]), (at(4), ["spo2"])]
    assert s.next_instant(at(3)) == at(4)
    assert s.next_instant(at(5)) is None


def test_load_scenario_by_name_and_csv(tmp_path: Path, hypertensive: Scenario) -> None:
    assert hypertensive.start == DEFAULT_START
    assert len(hypertensive.nibp_measurements) > 10
    path = tmp_path / "s.csv"
    path.write_text("time,sbp,dbp,map,hr,spo2\n0,120,80,93,70,98\n1,,,,71,97\n2,,,,72,\n")
    s = load_scenario(str(path))
    assert (s.end - s.start).total_seconds() == 2
    assert len(s.readings) == 8


@pytest.mark.parametrize(("content", "message"), [
    (None, "neither a built-in scenario (iv-ketamine"),
    ("time,hr\n0,70\n1,abc\n", "line 3"),
    ("time,hr,event\n0,,dose_start\n", "no readings"),
])
def test_load_scenario_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        load_scenario(str(path))


# --- GE S/5 --------------------------------------------------------------------------------------------


def test_ge_sends_at_the_requested_interval(hypertensive: Scenario) -> None:
    m = GeS5Monitor(hypertensive)
    assert m.frames_due(DEFAULT_START) == [] and m.next_due() is None  # nothing until asked
    assert m.receive(request(10)) == 1
    recs = records(m.frames_due(at(35, DEFAULT_START)))
    times = [parse_header(r).r_time for r in recs]
    start = int(DEFAULT_START.timestamp())
    assert times == [start, start + 10, start + 20, start + 30]
    assert m.frames_due(at(35, DEFAULT_START)) == []
    assert m.next_due() == at(40, DEFAULT_START)
    header = parse_header(recs[0])
    assert (header.r_len, header.dri_level, header.subrecords) == (40 + 278, 10, ((0, PH_DISPL),))


def test_ge_single_shot_stop_and_ignored_second_request(hypertensive: Scenario) -> None:
    m = GeS5Monitor(hypertensive)
    m.receive(request(-1))
    assert len(m.frames_due(at(100, DEFAULT_START))) == 1
    assert m.next_due() is None

    m.receive(request(1), now=at(200, DEFAULT_START))
    assert m.receive(request(0), now=at(203, DEFAULT_START)) == 0  # within 5 s of the last: ignored
    assert m.stats["ignored_requests"] == 1
    assert len(m.frames_due(at(206, DEFAULT_START))) == 7  # 200..206
    assert m.receive(request(0), now=at(206.5, DEFAULT_START)) == 1
    assert m.frames_due(at(300, DEFAULT_START)) == [] and m.next_due() is None


def test_ge_ignores_what_is_not_a_request(hypertensive: Scenario) -> None:
    m = GeS5Monitor(hypertensive)
    bad = bytearray(request(5))
    bad[-2] ^= 0x01  # checksum byte
    phdb = frame(encode_phdb(0, 0, [], 10))
    assert m.receive(b"junk" + bytes(bad) + phdb + request(5, subtype=PH_60S_TREND)) == 0
    assert m.stats["checksum_failures"] == 1
    assert m.stats["other_records"] == 1
    assert m.stats["unsupported_requests"] == 1
    assert m.next_due() is None


def test_ge_classes(hypertensive: Scenario) -> None:
    m = GeS5Monitor(hypertensive)
    m.receive(request(-1, CLASS_DENY_BASIC | CLASS_REQ_EXT1 | CLASS_REQ_EXT3))
    (record,) = records(m.frames_due(hypertensive.start))
    subs = parse_phdb(record, parse_header(record))
    assert [s.cls for s in subs] == [1, 3]
    assert all(s.physdata == bytes(270) for s in subs)  # no live group
    decoder = GeS5Decoder()
    assert decoder.feed(frame(record)) == [] and decoder.stats["phdb_records"] == 1


def test_ge_decoder_reproduces_the_scenario_exactly(hypertensive: Scenario) -> None:
    m = GeS5Monitor(hypertensive)
    m.receive(request(1))
    frames = m.frames_due(hypertensive.end + timedelta(hours=1))
    assert m.next_due() is None  # the scenario ended
    recs = records(frames)
    assert [parse_header(r).r_nbr for r in recs] == [i % 256 for i in range(len(recs))]
    decoder = GeS5Decoder()
    items = decoder.feed(b"".join(frames))
    assert triples(items) == triples(hypertensive.readings)
    nibp = [r for r in items if r.vital in NIBP_CODES]
    assert len(nibp) == 3 * len(hypertensive.nibp_measurements)
    assert all(r.measured_at == r.time for r in nibp)
    assert decoder.stats["checksum_failures"] == 0


def test_ge_escapes_flags_in_data_and_checksum() -> None:
    # hr 126 = 0x7E and pr 125 = 0x7D in every record; with constant values the checksum moves by 3 per
    # record (r_nbr, r_time, subrecord time) but for carries, and 600 records take every value, 7D and 7E too.
    readings = [Reading(at(t), vital, value) for t in range(600) for vital, value in (("hr", 126.0), ("pr", 125.0))]
    scenario = Scenario(readings, [])
    m = GeS5Monitor(scenario)
    m.receive(request(1))
    frames = m.frames_due(scenario.end)
    sums = {unescape(f[1:-1])[-1] for f in frames}
    assert {0x7D, 0x7E} <= sums
    assert all(0x7E not in f[1:-1] for f in frames)
    recs = records(frames)
    assert [parse_header(r).r_nbr for r in recs] == [i % 256 for i in range(600)]
    assert triples(GeS5Decoder().feed(b"".join(frames))) == triples(readings)


def test_ge_nibp_labels() -> None:
    # Measurements at 40, 100 and 110 s: cuff cycles of 30 s, 30 s and 5 s (half the 10 s gap).
    readings = [Reading(at(t), "hr", 70.0) for t in range(200)]
    for t, sbp in ((40, 120.0), (100, 130.0), (110, 140.0)):
        readings += [Reading(at(t), "sbp", sbp), Reading(at(t), "dbp", 80.0), Reading(at(t), "map", 93.0)]
    scenario = Scenario(readings, [])
    m = GeS5Monitor(scenario)
    m.receive(request(1))
    frames = m.frames_due(scenario.end)
    labels = {}
    for rec in records(frames):
        (sub,) = parse_phdb(rec, parse_header(rec))
        status, label = group_status(sub.physdata, NIBP_GROUP_OFFSET)
        labels[sub.time - int(T0.timestamp())] = label if status & 3 == 3 else None
    measuring = NIBP_AUTO | NIBP_MEASURING
    assert [labels[t] for t in (0, 9, 10, 39, 40, 69, 70, 100, 101, 104, 105, 110, 170, 171)] == [
        None, None, measuring, measuring, NIBP_AUTO, NIBP_AUTO, measuring, NIBP_AUTO, NIBP_AUTO,
        NIBP_AUTO, measuring, NIBP_AUTO, NIBP_AUTO, NIBP_AUTO | NIBP_OLDER_THAN_60S]
    decoded = GeS5Decoder().feed(b"".join(frames))
    assert [(r.time, r.value) for r in decoded if r.vital == "sbp"] == [(at(40), 120.0), (at(100), 130.0),
                                                                         (at(110), 140.0)]


# --- HL7 -----------------------------------------------------------------------------------------------


def test_hl7_decoder_reproduces_the_scenario_exactly(hypertensive: Scenario) -> None:
    m = Hl7Monitor(hypertensive)
    assert m.next_due() == hypertensive.start
    first = m.frames_due(hypertensive.start + timedelta(seconds=9.5))
    assert len(first) == 10 and m.next_due() == at(10, hypertensive.start)
    frames = first + m.frames_due(hypertensive.end)
    assert m.next_due() is None and m.frames_due(hypertensive.end + timedelta(hours=1)) == []
    control_ids = [int(f.split(b"\r", 1)[0].split(b"|")[9]) for f in frames]
    assert control_ids == list(range(1, len(frames) + 1))
    decoder = Hl7MllpDecoder()
    items = decoder.feed(b"".join(frames))
    assert triples(items) == triples(hypertensive.readings)
    m.receive(decoder.pending_output())
    assert m.stats["acks"] == len(frames)


def test_hl7_splits_an_instant_that_holds_a_vital_twice() -> None:
    readings = [Reading(at(0), "hr", 70.0), Reading(at(0), "hr", 71.0), Reading(at(0), "spo2", 98.0)]
    frames = Hl7Monitor(Scenario(readings, [])).frames_due(at(0))
    assert len(frames) == 2
    assert triples(Hl7MllpDecoder().feed(b"".join(frames))) == triples(readings)


# --- faults --------------------------------------------------------------------------------------------


def test_faults_parse() -> None:
    f = Faults.parse("corrupt=0.01, drop=0.02,unplug=600+30,silence=900+20,unplug=1000+5,seed=7")
    assert (f.corrupt, f.drop, f.unplug, f.silence, f.seed) == (0.01, 0.02, ((600, 30), (1000, 5)), ((900, 20),), 7)
    assert [f.unplugged(t) for t in (599.9, 600, 629.9, 630, 1002)] == [False, True, True, False, True]
    assert [f.silent(t) for t in (899, 900, 919.9, 920)] == [False, True, True, False]
    assert Faults.parse("") == Faults()


@pytest.mark.parametrize(("spec", "message"), [
    ("flip=0.1", "unknown fault"),
    ("drop", "KEY=VALUE"),
    ("drop=2", "between 0 and 1"),
    ("drop=x", "bad fault 'drop=x'"),
    ("drop=0.6,corrupt=0.6", "must not exceed 1"),
    ("unplug=600", "AT\\+FOR"),
    ("silence=10+0", "FOR > 0"),
    ("seed=1.5", "bad fault"),
    ("drop=0.1,drop=0.2", "given twice"),
])
def test_faults_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults.parse(spec)


def test_faults_are_deterministic_and_at_the_asked_rates() -> None:
    frames = [frame(bytes([i % 256]) * 60) for i in range(20_000)]
    spec = "drop=0.1,corrupt=0.05,seed=3"
    a, b, c = Faults.parse(spec), Faults.parse(spec), Faults.parse(spec.replace("3", "4"))
    out_a = [a.apply(f, b"\x7e\x7d") for f in frames]
    assert out_a == [b.apply(f, b"\x7e\x7d") for f in frames]
    assert out_a != [c.apply(f, b"\x7e\x7d") for f in frames]
    assert 1800 < a.stats["dropped"] < 2200 and 850 < a.stats["corrupted"] < 1150
    assert out_a.count(None) == a.stats["dropped"]
    changed = [(f, o) for f, o in zip(frames, out_a, strict=True) if o is not None and o != f]
    assert len(changed) == a.stats["corrupted"]
    flipped = [(f, o) for f, o in changed if len(o) == len(f)]
    assert 300 < len(flipped) < len(changed) - 300  # both kinds occur
    assert all(sum(x != y for x, y in zip(f, o, strict=True)) == 1 and o.count(0x7E) == 2 for f, o in flipped)


def test_ge_decoder_counts_every_injected_fault(hypertensive: Scenario) -> None:
    m = GeS5Monitor(hypertensive)
    m.receive(request(1))
    frames = m.frames_due(at(3000, hypertensive.start))
    faults = Faults.parse("corrupt=0.05,drop=0.03,seed=11")
    wire = b"".join(out for f in frames if (out := faults.apply(f, m.framing_bytes)))
    decoder = GeS5Decoder()
    decoder.feed(wire + b"\x7e")  # a trailing flag closes a truncated last frame
    missing = len(frames) - decoder.stats["phdb_records"]
    failures = decoder.stats["checksum_failures"] + decoder.stats["malformed_records"]
    assert faults.stats["corrupted"] > 100 and faults.stats["dropped"] > 50
    assert failures == faults.stats["corrupted"]
    assert missing == faults.stats["dropped"] + faults.stats["corrupted"]


# --- on a pseudo-terminal ------------------------------------------------------------------------------


@contextmanager
def serving(host: PtyHost) -> Iterator[queue.Queue[str]]:
    """Run the host in a thread; yields the queue of slave paths it reports. Fails on a host error."""
    stop, paths, errors = threading.Event(), queue.Queue[str](), []

    def run() -> None:
        try:
            host.run(stop, paths.put)
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield paths
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert not thread.is_alive() and errors == []


def read_until(port: serial.Serial, decoder: GeS5Decoder | Hl7MllpDecoder | PhilipsMibDecoder,
               enough: int) -> list[Reading]:
    items: list[Reading] = []
    deadline = time.monotonic() + DEADLINE
    while len(items) < enough:
        assert time.monotonic() < deadline, f"only {len(items)} readings before the deadline"
        items += decoder.feed(port.read(65536))
        port.write(decoder.pending_output())
    return items


def small_csv(tmp_path: Path, seconds: int = 600) -> Path:
    path = tmp_path / "small.csv"
    rows = [f"{t},{'120,80,93' if t % 60 == 0 else ',,'},{60 + t % 50},{95 + t % 4},{61 + t % 50}"
            for t in range(seconds + 1)]
    path.write_text("time,sbp,dbp,map,hr,spo2,pr\n" + "\n".join(rows) + "\n")
    return path


def test_ge_on_a_pty_answers_requests_only(tmp_path: Path) -> None:
    scenario = load_scenario(str(small_csv(tmp_path)))
    host = PtyHost(GeS5Monitor(scenario), speed=20, wait_for_request=True)
    with serving(host) as paths, serial.Serial(paths.get(timeout=DEADLINE), timeout=0.05) as port:
        assert port.read(65536) == b""  # a monitor sends nothing until asked
        decoder = GeS5Decoder(interval_s=1)
        decoder.start()
        port.write(decoder.pending_output())
        items = read_until(port, decoder, 30)
    assert decoder.stats["checksum_failures"] == decoder.stats["junk_bytes"] == 0
    last = max(r.time for r in items)
    assert triples(items) == triples([r for r in scenario.readings if r.time <= last])


def test_philips_clock_starts_at_the_poll_not_at_the_association(tmp_path: Path) -> None:
    """A host whose poll follows the association late (a loaded computer, a fast replay) misses no second."""
    scenario = load_scenario(str(small_csv(tmp_path)))
    host = PtyHost(PhilipsMibMonitor(scenario), speed=30, wait_for_request=True)
    with serving(host) as paths, serial.Serial(paths.get(timeout=DEADLINE), timeout=0.05) as port:
        decoder = PhilipsMibDecoder(tz=UTC)
        decoder.start()
        port.write(decoder.pending_output())
        wait_until(lambda: decoder.feed(port.read(65536)) == [] and decoder.stats["mds_creates"] == 1,
                   "the association and the monitor's MDS create")
        time.sleep(0.5)  # 15 s of the scenario at 30×, had its clock started at the association
        assert host.stats["frames_sent"] == 2  # the association's answers only
        items = read_until(port, decoder, 10)
    assert min(r.time for r in items if r.vital == "hr") == scenario.start


def test_hl7_clock_starts_when_a_reader_opens_the_pty(tmp_path: Path) -> None:
    scenario = load_scenario(str(small_csv(tmp_path)))
    host = PtyHost(Hl7Monitor(scenario), speed=20)
    with serving(host) as paths:
        path = paths.get(timeout=DEADLINE)
        time.sleep(0.3)  # no reader yet (POLLHUP): the scenario must not start without one
        assert host.stats["frames_sent"] == host.stats["frames_unheard"] == 0
        with serial.Serial(path, timeout=0.05) as port:
            decoder = Hl7MllpDecoder()
            items = read_until(port, decoder, 40)
            wait_until(lambda: host.emulator.stats["acks"] > 0, "ACKs counted by the emulator")
    assert min(r.time for r in items) == scenario.start
    assert triples(items) == triples(scenario.readings)[:len(items)]


def test_unplug_closes_the_pty_and_a_new_one_is_linked(tmp_path: Path) -> None:
    scenario = load_scenario(str(small_csv(tmp_path)))
    link = tmp_path / "monitor"
    faults = Faults.parse("silence=2+2,unplug=6+40")  # out for 2 s of wall time
    host = PtyHost(Hl7Monitor(scenario), speed=20, faults=faults, link=link)
    with serving(host) as paths:
        first = paths.get(timeout=DEADLINE)
        assert os.readlink(link) == first
        decoder = Hl7MllpDecoder()
        with serial.Serial(str(link), timeout=0.05) as port:
            read_until(port, decoder, 3)
            with pytest.raises(serial.SerialException):
                read_until(port, decoder, 10_000)
        # The link never names the closed pty: its number is free for any other program's next pty.
        assert not link.is_symlink() or os.readlink(link) != first
        second = paths.get(timeout=DEADLINE)
        assert os.readlink(link) == second
        with serial.Serial(str(link), timeout=0.05) as port:
            decoder.start()
            items = read_until(port, decoder, 10)
        assert all(r.time >= at(46, scenario.start) for r in items)
    assert host.stats["unplugs"] == 1 and host.stats["frames_unheard"] >= 2
    assert not link.exists() and not link.is_symlink()


def test_simulate_runs_a_named_protocol_and_refuses_unknown_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ge-s5, hl7-mllp, philips-mib"):
        simulate("nihon-kohden", "hypertensive", 1, None, None, threading.Event(), print)
    with pytest.raises(ValueError, match="bad fault"):
        simulate("ge-s5", "hypertensive", 1, "drop=2x", None, threading.Event(), print)
    stop, paths = threading.Event(), queue.Queue[str]()
    thread = threading.Thread(target=simulate, args=("ge-s5", "hypertensive", 50.0, None, tmp_path / "ge", stop,
                                                     paths.put), daemon=True)
    thread.start()
    try:
        with serial.Serial(paths.get(timeout=DEADLINE), timeout=0.05) as port:
            decoder = GeS5Decoder(interval_s=1)
            decoder.start()
            port.write(decoder.pending_output())
            items = read_until(port, decoder, 10)
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert not thread.is_alive() and not (tmp_path / "ge").is_symlink()
    assert min(r.time for r in items) == DEFAULT_START


def test_a_stopped_network_monitor_waits_for_the_acks_of_what_is_in_flight(tmp_path: Path) -> None:
    """Its summary then says what the listener acknowledged: a listener slow to answer (here 0.5 s) is not
    reported as having lost messages it has."""
    scenario = load_scenario(str(small_csv(tmp_path, seconds=20)))
    client_monitor = Hl7Monitor(scenario)
    received = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = MllpClient(client_monitor, "127.0.0.1", server.getsockname()[1], speed=1000)

        def listener() -> None:  # acknowledges everything, half a second late
            conn, _ = server.accept()
            with conn:
                decoder, acks = Hl7MllpDecoder(), b""
                conn.settimeout(0.5)
                while True:  # the whole 20-s scenario comes in 20 ms at 1000×: then the line falls quiet
                    try:
                        decoder.feed(conn.recv(65536))
                    except TimeoutError:
                        break
                    acks += decoder.pending_output()
                received.set()
                time.sleep(0.5)
                conn.sendall(acks)
                time.sleep(1)

        threading.Thread(target=listener, daemon=True).start()
        stop = threading.Event()
        running = threading.Thread(target=client.run, args=(stop,))
        running.start()
        assert received.wait(DEADLINE)
        stop.set()
        running.join(DEADLINE)
    assert client_monitor.unacked == {} and client_monitor.stats["acks"] == client_monitor.stats["messages"] > 0
