"""The MLLP listener on real sockets into a real SQLite store: routing by hl7_id, ACK only after commit, unknown
senders rejected and listed, monitor alarms as events, link events per bed, and misbehaving peers bounded
(fuzz, floods, oversized frames, half-open and thousands of connections) without touching the others."""

from __future__ import annotations

import logging
import random
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import wait_until

from adapters.model.reading import LINK_LOST, LINK_RESTORED, Reading
from adapters.protocols import protocol
from adapters.protocols.hl7_mllp.alarms import MONITOR_ALARM, encode_r40
from adapters.protocols.hl7_mllp.message import encode_oru
from monitor.limits.model import load_preset
from monitor.runtime import bed as beds
from monitor.runtime.hl7 import Hl7Feed, Hl7Service
from monitor.runtime.live import LiveRunner
from monitor.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SPEC = protocol("hl7-mllp")


@dataclass
class Rig:
    """HL7 beds of one store behind one listener, as a site runs them."""

    store: Store
    service: Hl7Service
    runners: dict[str, LiveRunner] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.service.listener.port

    def readings(self, bed: str) -> list[tuple[str, float, datetime]]:
        session = self.store.beds.open_session(bed)
        assert session is not None
        return sorted((r.vital, r.value, r.time) for r in self.store.samples.readings(session))

    def events(self, bed: str) -> list[tuple[str, str]]:
        session = self.store.beds.open_session(bed)
        assert session is not None
        return [(e.kind, e.text) for e in self.store.samples.events(session)]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """Beds chair-1..3 with hl7_id MON-1..3; the listener's limits small enough to reach in a test."""
    store = Store(tmp_path / "vigil.db")
    feeds = {f"MON-{i}": Hl7Feed.of(SPEC, SPEC.name, {}) for i in (1, 2, 3)}
    service = Hl7Service("127.0.0.1", 0, feeds, max_connections=8, idle_s=1.5, max_frame=4096)
    service.open()
    rig = Rig(store, service)
    for i in (1, 2, 3):
        bed = beds.LiveBed(f"chair-{i}", f"hl7_id MON-{i}", "other", load_preset("iv-ketamine"), "tester",
                           name=f"chair {i}")
        rig.runners[f"chair-{i}"] = beds.open_live(store, bed, feeds[f"MON-{i}"], device_clock=True)
    for runner in rig.runners.values():
        runner.start()
    service.start()
    yield rig
    service.stop()
    for runner in rig.runners.values():
        runner.stop()
        assert runner.error is None
    store.close()


def readings(i: int, n: int, start: int = 0) -> list[list[Reading]]:
    """n one-second instants of monitor i: its HR is 60 + i, its SpO2 counts up (so beds cannot be confused)."""
    return [[Reading(T0 + timedelta(seconds=s), "hr", 60.0 + i), Reading(T0 + timedelta(seconds=s), "spo2",
                                                                        80.0 + (s % 20))]
            for s in range(start, start + n)]


def connect(rig: Rig) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", rig.port), timeout=10)
    sock.settimeout(10)
    return sock


def read_ack(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\x1c\r"):
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def msa(ack: bytes) -> list[str]:
    return next(s for s in ack.decode().split("\r") if s.startswith("MSA")).split("|")


def test_each_monitor_lands_on_its_own_bed_acknowledged_once_after_commit(rig: Rig) -> None:
    def monitor(i: int, errors: list[str]) -> None:
        with connect(rig) as sock:
            for k, batch in enumerate(readings(i, 15)):
                sock.sendall(encode_oru(batch, control_id=f"{i}-{k}", sender=f"MON-{i}"))
                ack = read_ack(sock)
                stored = rig.readings(f"chair-{i}")  # at the moment the ACK arrived
                if msa(ack)[1:3] != ["AA", f"{i}-{k}"] or not all((r.vital, r.value, r.time) in stored for r in batch):
                    errors.append(f"monitor {i} message {k}: {ack!r}")
                if (n := ack.count(b"\x0b")) != 1:
                    errors.append(f"monitor {i} message {k}: {n} ACKs")

    errors: list[str] = []
    threads = [threading.Thread(target=monitor, args=(i, errors)) for i in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for i in (1, 2, 3):
        assert rig.readings(f"chair-{i}") == sorted((r.vital, r.value, r.time) for b in readings(i, 15) for r in b)
    wait_until(lambda: rig.service.listener.stats["acks"] == 45, "the listener's count (after each send)")


def test_an_unknown_sender_is_rejected_with_the_reason_and_listed(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    with connect(rig) as sock, caplog.at_level(logging.WARNING):
        for k in range(3):
            sock.sendall(encode_oru(readings(9, 1)[0], control_id=f"x{k}", sender="STRANGER"))
            code, control_id, text = msa(read_ack(sock))[1:4]
            assert (code, control_id) == ("AR", f"x{k}")
            assert "no bed has this sender's hl7_id" in text and "MSH-3 STRANGER" in text
    (unknown,) = rig.service.unknown_senders()
    assert (unknown.ids.application, unknown.messages, unknown.peer.split(":")[0]) == ("STRANGER", 3, "127.0.0.1")
    assert rig.service.stats["unknown_messages"] == 3
    assert [r.message for r in caplog.records if "unknown sender" in r.message] == [
        f"HL7 message from an unknown sender at {unknown.peer} rejected (AR): MSH-3 STRANGER"]  # logged once
    for i in (1, 2, 3):
        assert rig.readings(f"chair-{i}") == []


def test_routing_prefers_the_equipment_id_over_the_sending_application(rig: Rig) -> None:
    """A gateway (MSH-3 MON-1) forwarding a device whose OBX-18 is MON-2: the device's bed gets it."""
    text = encode_oru(readings(2, 1)[0], control_id="g1", sender="MON-1").decode()
    text = "\r".join(s + "||||MON-2^^^EUI-64" if s.startswith("OBX") else s for s in text.split("\r"))
    with connect(rig) as sock:
        sock.sendall(text.encode())
        assert msa(read_ack(sock))[1] == "AA"
    assert len(rig.readings("chair-2")) == 2 and rig.readings("chair-1") == []


def test_a_monitor_alarm_is_an_event_on_its_bed_and_never_a_vigil_alarm(rig: Rig) -> None:
    with connect(rig) as sock:
        sock.sendall(encode_oru(readings(3, 1)[0], control_id="1", sender="MON-3"))
        read_ack(sock)
        sock.sendall(encode_r40(T0 + timedelta(seconds=1), control_id="2", sender="MON-3", source_mdc=150456,
                                source_ref="MDC_PULS_OXIM_SAT_O2", event="196674^MDC_EVT_LO", phase="start",
                                priority="PH"))
        assert msa(read_ack(sock))[1:3] == ["AA", "2"]
        # Read while connected: the ACK follows the commit, and closing would add the bed's link loss.
        assert rig.events("chair-3") == [(MONITOR_ALARM, "SpO2 MDC_EVT_LO: start, active, high priority, "
                                                         "physiological")]
        session = rig.store.beds.open_session("chair-3")
        assert session is not None and rig.store.alarms.since(session) == []
        assert rig.events("chair-1") == [] and rig.events("chair-2") == []


def test_a_dropped_connection_is_a_link_loss_on_its_bed_and_the_next_message_a_restore(rig: Rig) -> None:
    with connect(rig) as sock:
        sock.sendall(encode_oru(readings(1, 1)[0], control_id="1", sender="MON-1"))
        read_ack(sock)
    wait_until(lambda: [k for k, _ in rig.events("chair-1")] == [LINK_LOST], "the loss recorded")
    assert "closed by the peer" in rig.events("chair-1")[0][1]
    with connect(rig) as sock:
        sock.sendall(encode_oru(readings(1, 1, start=5)[0], control_id="2", sender="MON-1"))
        read_ack(sock)
        assert [k for k, _ in rig.events("chair-1")] == [LINK_LOST, LINK_RESTORED]
        # a half-open connection: the monitor says nothing more; the listener closes it after idle_s
        wait_until(lambda: [k for k, _ in rig.events("chair-1")] == [LINK_LOST, LINK_RESTORED, LINK_LOST],
                   "the silent connection closed")
    assert "no message for 1.5 s" in rig.events("chair-1")[-1][1]
    assert rig.events("chair-2") == []


def good_monitor(rig: Rig, n: int, errors: list[str]) -> None:
    """Monitor 1 sending n messages one by one; every one must be ACKed AA and stored."""
    try:
        with connect(rig) as sock:
            for k, batch in enumerate(readings(1, n)):
                sock.sendall(encode_oru(batch, control_id=f"g{k}", sender="MON-1"))
                if msa(read_ack(sock))[1] != "AA":
                    errors.append(f"message {k} not accepted")
    except OSError as exc:
        errors.append(f"good monitor: {exc}")


def assert_untroubled(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    stats = rig.service.listener.stats
    assert stats["connection_errors"] == 0 and stats["decoder:decoder_errors"] == 0, stats
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_fuzzed_bytes_on_many_connections_raise_nothing_and_spare_a_good_monitor(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(17)
    real = [encode_oru(b, control_id=str(k), sender=f"MON-{1 + k % 3}") for k, b in enumerate(readings(2, 40))]
    real.append(encode_r40(T0, control_id="r", sender="MON-2", source_mdc=150456, source_ref="X",
                           event="196674^MDC_EVT_LO", phase="start", priority="PH"))

    def fuzzer(seed: int) -> None:
        r = random.Random(seed)
        try:
            with connect(rig) as sock:
                for _ in range(200):
                    data = bytearray(r.choice(real))
                    for _ in range(r.randint(0, 8)):
                        data[r.randrange(len(data))] = r.choice([*b"\x0b\x1c\r|^", r.randrange(256)])
                    sock.sendall(bytes(data[: r.randint(1, len(data))]) if r.random() < 0.2 else bytes(data))
        except OSError:
            pass  # the listener may close a connection it no longer trusts

    errors: list[str] = []
    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=fuzzer, args=(rng.randrange(1 << 30),)) for _ in range(5)]
        threads.append(threading.Thread(target=good_monitor, args=(rig, 20, errors)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    assert_untroubled(rig, caplog)


def test_floods_stay_bounded_in_memory_and_spare_a_good_monitor(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Endless bytes without a frame end (24 MB), oversized frames and noise (8 MB each), while a monitor sends."""
    floods = {
        "no frame end": b"\x0b" + b"A" * (1 << 16),
        "oversized frames": b"\x0b" + b"B" * 10_000 + b"\x1c\r",
        "noise": bytes(range(256)) * 256,
    }
    stop = threading.Event()

    def flood(chunk: bytes, size: int) -> None:
        sent = 0
        try:
            with connect(rig) as sock:
                while sent < size and not stop.is_set():
                    sock.sendall(chunk)
                    sent += len(chunk)
        except OSError:
            pass

    errors: list[str] = []
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING):
            threads = [threading.Thread(target=flood, args=(c, (24 if name == "no frame end" else 8) << 20))
                       for name, c in floods.items()]
            threads.append(threading.Thread(target=good_monitor, args=(rig, 20, errors)))
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        stop.set()
        tracemalloc.stop()
    assert errors == []
    # Bounded: a buffer kept growing would hold the 24 MB sent without a frame end; what is traced besides
    # (the test's own chunks, the store, other threads of a loaded test process) stays well under half of it.
    assert peak < 12 << 20, f"peak {peak / 1e6:.1f} MB while 40 MB were flooded"
    stats = rig.service.listener.stats
    assert stats["decoder:oversized_frames"] > 0 and stats["decoder:noise_bytes"] > 0
    assert len(rig.readings("chair-1")) == 40
    assert_untroubled(rig, caplog)


def test_thousands_of_connections_cannot_lock_a_monitor_out(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Idle connections beyond the limit replace each other; a monitor that connects after them is served,
    and once proven it is never replaced."""
    idle: list[socket.socket] = []
    with caplog.at_level(logging.WARNING):
        try:
            for _ in range(1000):
                idle.append(socket.create_connection(("127.0.0.1", rig.port), timeout=10))
            wait_until(lambda: rig.service.listener.stats["accepted"] == 1000, "every connection accepted")
            assert len(rig.service.listener.connections()) <= 8
            errors: list[str] = []
            good_monitor(rig, 5, errors)
            assert errors == []
            with connect(rig) as proven:
                proven.sendall(encode_oru(readings(2, 1)[0], control_id="p", sender="MON-2"))
                assert msa(read_ack(proven))[1] == "AA"
                for _ in range(50):
                    idle.append(socket.create_connection(("127.0.0.1", rig.port), timeout=10))
                proven.sendall(encode_oru(readings(2, 1, start=1)[0], control_id="q", sender="MON-2"))
                assert msa(read_ack(proven))[1] == "AA"
        finally:
            for sock in idle:
                sock.close()
    assert rig.service.listener.stats["replaced"] >= 990
    assert_untroubled(rig, caplog)
