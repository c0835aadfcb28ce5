"""The serial link against real ports: pseudo-terminals (the test plays the monitor on the master side)
and pyserial's loop://, with the real GE decoder and monitor records built byte-exactly (the HL7 one where
acknowledgements matter)."""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
import serial
from support import TIMEOUT, Pty, wait_until

from adapters.model.reading import LINK_LOST, LINK_RESTORED, Event, Reading
from adapters.protocols.base import LOGGED_BYTES, GuardedDecoder, Item, LineSettings
from adapters.protocols.ge_s5.decoder import DEFAULT_INTERVAL_S, LINE_SETTINGS, GeS5Decoder
from adapters.protocols.ge_s5.framing import frame
from adapters.protocols.ge_s5.records import (
    CLASS_BASIC,
    NIBP_MEASURING,
    PH_DISPL,
    encode_basic,
    encode_phdb,
    encode_request,
    encode_subrecord,
)
from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder
from adapters.protocols.hl7_mllp.message import encode_oru
from adapters.transport.serial_link import CLOCK_SLACK_S, LinkConfig, LinkError, SerialLink
from monitor.runtime.live import LiveRunner
from monitor.store import Store

T0 = 1_800_000_000  # device time of the first record, Unix seconds
HOST = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
DRI_LEVEL = 6
REQUEST = frame(encode_request(PH_DISPL, DEFAULT_INTERVAL_S))
VITALS = {"hr": 72.0, "spo2": 98.0}
NIBP = {"sbp": 141.0, "dbp": 88.0, "map": 106.0}
GARBAGE = bytes(range(0x20, 0x7E)) * 2  # no 0x7E flag: nothing a deframer can sync on
GE_HINT = "the monitor's Computer Interface output and a null-modem cable"


def ge_record(t: int, values: dict[str, float], nibp_label: int = 0) -> bytes:
    """One framed PHDB record of displayed basic values, as a monitor sends it."""
    sub = encode_subrecord(t, CLASS_BASIC, encode_basic(values, nibp_label), DRI_LEVEL)
    return frame(encode_phdb(t - T0, t, [sub], DRI_LEVEL))


def device(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class HostClock:
    """The link's `now`: a fixed host time the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value


class Running:
    """A link running in its own thread, collecting what it hands to the sink."""

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self.stop = threading.Event()
        self._items: list[Item] = []
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=link.run, args=(self._sink, self.stop), daemon=True)
        self.thread.start()

    def _sink(self, items: list[Item]) -> None:
        assert items, "the sink is only called with something to deliver"
        with self._lock:
            self._items.extend(items)

    @property
    def items(self) -> list[Item]:
        with self._lock:
            return list(self._items)

    def readings(self) -> list[Reading]:
        return [i for i in self.items if isinstance(i, Reading)]

    def events(self, kind: str) -> list[Event]:
        return [i for i in self.items if isinstance(i, Event) and i.kind == kind]

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "run() did not return after stop"
        self.link.close()


Starter = Callable[[SerialLink], Running]


@pytest.fixture
def run() -> Iterator[Starter]:
    started: list[Running] = []

    def start(link: SerialLink) -> Running:
        started.append(Running(link))
        return started[-1]

    yield start
    for r in started:
        r.halt()


def ge_link(url: str | Path, *, watchdog_s: float = 30.0, backoff: tuple[float, float] = (0.05, 0.2),
            now: Callable[[], datetime] | None = None, raw_out: Path | None = None,
            clock: Literal["host", "device"] = "host", setup_hint: str = GE_HINT,
            decoder: GeS5Decoder | None = None) -> SerialLink:
    """A GE link; the watchdog defaults far off so that only tests about it see it fire."""
    cfg = LinkConfig(str(url), LINE_SETTINGS, "bed-1", watchdog_s=watchdog_s, raw_out=raw_out, clock=clock,
                     setup_hint=setup_hint)
    return SerialLink(cfg, decoder or GeS5Decoder("bed-1"), now=now or HostClock(HOST), backoff=backoff)


def repoint(link_path: Path, target: str | Path) -> None:
    """Atomically point a symlink elsewhere, as udev does for /dev/serial/by-id/ names."""
    tmp = link_path.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link_path)


def test_request_is_sent_byte_for_byte_on_open(pty: Callable[[], Pty]) -> None:
    p = pty()
    link = ge_link(p.path)
    link.open()
    try:
        assert link.connected
        assert p.receive(len(REQUEST)) == REQUEST
    finally:
        link.close()
    assert not link.connected


def test_host_clock_keeps_the_device_spacing_of_frames_read_in_one_chunk(pty: Callable[[], Pty], run: Starter) -> None:
    p = pty()
    link = ge_link(p.path, now=HostClock(HOST))
    link.open()
    p.receive(len(REQUEST))
    # An NIBP cycle across three records: results appear at T0+1 while "measuring" is still set.
    chunk = (ge_record(T0, VITALS, NIBP_MEASURING) + ge_record(T0 + 1, VITALS | NIBP, NIBP_MEASURING)
             + ge_record(T0 + 2, VITALS | NIBP))
    p.send(chunk)
    wait_until(lambda: p.queued() == len(chunk), "the chunk to be queued whole")
    r = run(link)
    wait_until(lambda: len(r.readings()) == 9, "9 readings")

    hr = [x for x in r.readings() if x.vital == "hr"]
    assert [x.time for x in hr] == [HOST - timedelta(seconds=2), HOST - timedelta(seconds=1), HOST]
    assert [x.device_time for x in hr] == [device(T0), device(T0 + 1), device(T0 + 2)]
    sbp = next(x for x in r.readings() if x.vital == "sbp")
    assert sbp.time == HOST - timedelta(seconds=1)  # measured one record before the record that carried it
    assert (sbp.device_time, sbp.measured_at, sbp.value) == (device(T0 + 2), device(T0 + 1), 141.0)
    assert link.frames_seen and link.stats["bytes"] == len(chunk)


def test_device_clock_passes_times_through_and_stamps_link_events_on_the_device_time_line(
        pty: Callable[[], Pty], run: Starter) -> None:
    p = pty()
    clock = HostClock(HOST)
    link = ge_link(p.path, clock="device", now=clock, backoff=(30.0, 60.0))
    link.open()
    p.receive(len(REQUEST))
    r = run(link)
    p.send(ge_record(T0, VITALS) + ge_record(T0 + 1, VITALS))
    wait_until(lambda: len(r.readings()) == 4, "4 readings")
    assert [(x.vital, x.time, x.device_time) for x in r.readings()] == [
        ("hr", device(T0), device(T0)), ("spo2", device(T0), device(T0)),
        ("hr", device(T0 + 1), device(T0 + 1)), ("spo2", device(T0 + 1), device(T0 + 1)),
    ]
    clock.value = HOST + timedelta(seconds=7)
    p.hang_up()
    wait_until(lambda: r.events("link_lost"), "link_lost")
    assert r.events("link_lost")[0].time == device(T0 + 1) + timedelta(seconds=7)


def test_raw_out_appends_exactly_the_received_bytes(pty: Callable[[], Pty], run: Starter, tmp_path: Path) -> None:
    raw = tmp_path / "session.raw"
    raw.write_bytes(b"earlier capture")
    p = pty()
    link = ge_link(p.path, raw_out=raw)
    link.open()
    p.receive(len(REQUEST))
    r = run(link)
    sent = GARBAGE + ge_record(T0, VITALS) + b"\x7e\x01\x02"  # junk, a record, a frame cut short
    p.send(sent)
    wait_until(lambda: len(r.readings()) == 2, "2 readings")
    wait_until(lambda: raw.stat().st_size == len(b"earlier capture") + len(sent), "the tee to catch up")
    assert raw.read_bytes() == b"earlier capture" + sent


def no_data_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [rec for rec in caplog.records
            if rec.name == "adapters.transport.serial_link" and "no data from" in rec.message]


def test_silence_is_one_link_lost_one_warning_and_a_request_after_every_reopen(
        pty: Callable[[], Pty], run: Starter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.transport.serial_link")
    p = pty()
    link = ge_link(p.path, watchdog_s=0.3)
    link.open()
    r = run(link)
    wait_until(lambda: link.stats["reconnects"] >= 2, "two reopens after the watchdog fired")
    assert p.receive(3 * len(REQUEST)) == REQUEST * 3  # on open, then after each reopen
    assert [e.text for e in r.events("link_lost")] == ["no bytes for 0.3 s"]
    assert r.events("link_lost")[0].source == "bed-1"
    [warning] = no_data_warnings(caplog)
    assert warning.message == (f"no data from {p.path} in 0.3 s — check {GE_HINT}, the cable, "
                               "the line settings (19200 8E1 RTS/CTS) and --protocol")
    assert not link.frames_seen


def test_the_no_data_warning_gives_only_the_protocols_own_advice(
        pty: Callable[[], Pty], run: Starter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.transport.serial_link")
    p = pty()
    link = ge_link(p.path, watchdog_s=0.3, setup_hint="")
    link.open()
    run(link)
    wait_until(lambda: no_data_warnings(caplog), "the no-data warning")
    [warning] = no_data_warnings(caplog)
    assert warning.message == (f"no data from {p.path} in 0.3 s — check the cable, "
                               "the line settings (19200 8E1 RTS/CTS) and --protocol")


def test_bytes_without_a_valid_frame_are_reported_with_the_line_settings(pty: Callable[[], Pty], run: Starter) -> None:
    p = pty()
    link = ge_link(p.path, watchdog_s=0.3)
    link.open()
    p.send(GARBAGE)
    r = run(link)
    wait_until(lambda: link.stats["reconnects"] >= 2, "two reopens")  # the silence after it is the same outage
    assert [e.text for e in r.events("link_lost")] == [
        "bytes but no valid frame for 0.3 s (check line settings 19200 8E1 RTS/CTS and --protocol)"
    ]


def test_a_loopback_echoes_the_request_which_is_not_a_monitors_frame(run: Starter) -> None:
    """loop:// is a loopback plug: the request comes back well framed but is our own, not a monitor's
    record, so the link is not taken as alive (a wrong cable that loops TX to RX looks the same)."""
    link = ge_link("loop://", watchdog_s=0.3)
    link.open()
    r = run(link)
    wait_until(lambda: r.events("link_lost"), "link_lost")
    assert r.events("link_lost")[0].text.startswith("bytes but no valid frame for 0.3 s")
    assert link.decoder.stats["echoed_requests"] >= 1 and link.decoder.stats["valid_frames"] == 0
    assert not r.readings() and not r.events("link_restored")


def test_unplugged_then_replugged_at_the_same_path_reconnects_and_data_flows_again(
        pty: Callable[[], Pty], run: Starter, tmp_path: Path) -> None:
    port = tmp_path / "ttyGE"
    first = pty()
    repoint(port, first.path)
    link = ge_link(port)  # the watchdog is far off: the loss must come from the read error itself
    link.open()
    first.receive(len(REQUEST))
    r = run(link)
    first.send(ge_record(T0, VITALS))
    wait_until(lambda: len(r.readings()) == 2, "readings before the outage")

    repoint(port, tmp_path / "unplugged")
    first.hang_up()
    wait_until(lambda: r.events("link_lost"), "link_lost")
    assert r.events("link_lost")[0].text.startswith("read failed")
    wait_until(lambda: link.stats["reopen_failures"] >= 2, "reopen attempts while the device is absent")

    second = pty()
    repoint(port, second.path)
    assert second.receive(len(REQUEST)) == REQUEST
    second.send(ge_record(T0 + 5, VITALS))
    wait_until(lambda: len(r.readings()) == 4, "readings after the outage")

    kinds = [i.kind if isinstance(i, Event) else i.vital for i in r.items]
    assert kinds == ["hr", "spo2", "link_lost", "link_restored", "hr", "spo2"]
    assert r.events("link_restored")[0].source == "bed-1"
    assert link.connected and link.stats["reconnects"] == 1 and link.stats["link_lost"] == 1


@pytest.mark.parametrize(("target", "expected"), [
    ("missing", "no such device — check the port name (ls /dev/ttyUSB* /dev/serial/by-id/)"),
    ("directory", "not a serial port"),
    ("file", "not a serial port"),
    ("foo://monitor", "invalid URL"),
])
def test_open_errors_say_what_to_check(tmp_path: Path, target: str, expected: str) -> None:
    (tmp_path / "file").write_text("not a tty")
    url = {"missing": str(tmp_path / "ttyUSB9"), "directory": str(tmp_path), "file": str(tmp_path / "file")}
    link = ge_link(url.get(target, target))
    with pytest.raises(LinkError) as err:
        link.open()
    message = str(err.value)
    assert message.startswith(f"cannot open {url.get(target, target)}: ")
    assert expected in message and "\n" not in message
    assert not link.connected


def test_an_unsupported_baud_rate_is_named() -> None:
    link = SerialLink(LinkConfig("loop://", LineSettings(-1), "bed-1"), GeS5Decoder())
    with pytest.raises(LinkError, match="--baud -1 is not supported"):
        link.open()


def test_a_port_already_open_elsewhere_is_refused_as_in_use(pty: Callable[[], Pty]) -> None:
    p = pty()
    first = ge_link(p.path)
    first.open()
    try:
        second = ge_link(p.path)
        with pytest.raises(LinkError, match="is in use by another program"):
            second.open()
    finally:
        first.close()
    second.open()  # the lock went with the first link
    second.close()


@pytest.mark.parametrize("state", ["reading a silent port", "reading a flowing port", "backing off, port missing"])
def test_stop_ends_the_run_in_every_state(pty: Callable[[], Pty], run: Starter, tmp_path: Path, state: str) -> None:
    port = tmp_path / "ttyGE"
    p = pty()
    repoint(port, p.path)
    link = ge_link(port, backoff=(60.0, 60.0))  # watchdog and backoff far beyond halt()'s TIMEOUT
    link.open()
    p.receive(len(REQUEST))
    r = run(link)
    if state == "reading a flowing port":
        for s in range(3):
            p.send(ge_record(T0 + s, VITALS))
        wait_until(lambda: len(r.readings()) == 6, "readings")
        p.send(ge_record(T0 + 3, VITALS)[:-1])  # and a frame under way
    elif state == "backing off, port missing":
        repoint(port, tmp_path / "unplugged")
        p.hang_up()
        wait_until(lambda: r.events("link_lost"), "link_lost")
    r.halt()  # run() returns and the link closes within TIMEOUT
    assert not link.connected


# -- the host clock: a persistent offset (host − device) --


def started(pty: Callable[[], Pty], run: Starter) -> tuple[Pty, HostClock, Running]:
    """A GE link running on a fresh pty whose request was consumed, on a host clock the test sets."""
    p = pty()
    clock = HostClock(HOST)
    link = ge_link(p.path, now=clock)
    link.open()
    p.receive(len(REQUEST))
    return p, clock, run(link)


def hr_times(p: Pty, r: Running, data: bytes) -> list[datetime]:
    """Send records, wait until each one's heart rate arrived, return every heart rate's time so far."""
    before = len([x for x in r.readings() if x.vital == "hr"])
    p.send(data)
    n = before + data.count(b"\x7e") // 2
    wait_until(lambda: len([x for x in r.readings() if x.vital == "hr"]) == n, f"{n} heart rates")
    return [x.time for x in r.readings() if x.vital == "hr"]


def seconds(*offsets: float) -> list[datetime]:
    return [HOST + timedelta(seconds=s) for s in offsets]


def test_a_burst_read_after_a_stall_keeps_the_device_spacing_and_never_goes_backwards(
        pty: Callable[[], Pty], run: Starter) -> None:
    p, clock, r = started(pty, run)
    assert hr_times(p, r, ge_record(T0, VITALS)) == seconds(0)
    clock.value = HOST + timedelta(seconds=6)  # the reader stalled; five records waited, read in two chunks
    hr_times(p, r, ge_record(T0 + 1, VITALS) + ge_record(T0 + 2, VITALS) + ge_record(T0 + 3, VITALS))
    times = hr_times(p, r, ge_record(T0 + 4, VITALS) + ge_record(T0 + 5, VITALS))
    assert times == seconds(0, 1, 2, 3, 4, 5)  # anchoring each chunk at now would give 0, 4, 5, 6, 5, 6
    assert r.link.stats["clock_reanchors"] == 0


def test_the_same_device_time_maps_to_the_same_host_time_in_every_chunk(pty: Callable[[], Pty], run: Starter) -> None:
    p, clock, r = started(pty, run)
    hr_times(p, r, ge_record(T0, VITALS))
    clock.value = HOST + timedelta(seconds=1.5)
    assert hr_times(p, r, ge_record(T0, VITALS)) == seconds(0, 0)  # a monitor repeating its last record


def test_a_device_clock_running_ahead_beyond_the_slack_is_re_anchored_at_once(
        pty: Callable[[], Pty], run: Starter) -> None:
    p, clock, r = started(pty, run)
    hr_times(p, r, ge_record(T0, VITALS))
    clock.value = HOST + timedelta(seconds=1)
    assert hr_times(p, r, ge_record(T0 + 2, VITALS))[-1] == seconds(2)[0]  # 1 s ahead: within the slack
    assert hr_times(p, r, ge_record(T0 + 5, VITALS))[-1] == seconds(1)[0]  # 4 s ahead: the clock was set
    clock.value = HOST + timedelta(seconds=2)
    assert hr_times(p, r, ge_record(T0 + 6, VITALS))[-1] == seconds(2)[0]  # the new offset holds
    assert r.link.stats["clock_reanchors"] == 1


def test_a_device_clock_behind_beyond_the_slack_is_re_anchored_once_it_stays_behind(
        pty: Callable[[], Pty], run: Starter) -> None:
    p, clock, r = started(pty, run)
    hr_times(p, r, ge_record(T0, VITALS))
    clock.value = HOST + timedelta(seconds=10)
    assert hr_times(p, r, ge_record(T0 + 5, VITALS))[-1] == seconds(5)[0]  # late: could be a backlog
    clock.value += timedelta(seconds=CLOCK_SLACK_S)
    assert hr_times(p, r, ge_record(T0 + 7, VITALS))[-1] == clock.value  # still 5 s behind: the clock was set back
    assert r.link.stats["clock_reanchors"] == 1


def test_a_reconnect_sets_the_offset_again(pty: Callable[[], Pty], run: Starter, tmp_path: Path) -> None:
    port = tmp_path / "ttyGE"
    first = pty()
    repoint(port, first.path)
    clock = HostClock(HOST)
    link = ge_link(port, now=clock)
    link.open()
    first.receive(len(REQUEST))
    r = run(link)
    assert hr_times(first, r, ge_record(T0, VITALS)) == seconds(0)
    repoint(port, tmp_path / "unplugged")
    first.hang_up()
    wait_until(lambda: r.events(LINK_LOST), "link_lost")
    clock.value = HOST + timedelta(seconds=60)
    second = pty()
    repoint(port, second.path)
    second.receive(len(REQUEST))
    # The old offset would put this record at +61 s, within the slack; a new device may keep any time.
    assert hr_times(second, r, ge_record(T0 + 61, VITALS))[-1] == clock.value
    assert link.stats["clock_reanchors"] == 0


# -- link events on the readings' time line --


def test_a_loss_is_never_stamped_before_a_reading_already_delivered(pty: Callable[[], Pty], run: Starter) -> None:
    """On the host clock a reading may be stamped up to CLOCK_SLACK_S ahead of its arrival; a loss noticed
    after it comes after it, or the signal-loss alarm would be announced before its onset."""
    p, clock, r = started(pty, run)
    hr_times(p, r, ge_record(T0, VITALS))
    clock.value = HOST + timedelta(seconds=1)
    assert hr_times(p, r, ge_record(T0 + 2, VITALS))[-1] == HOST + timedelta(seconds=2)  # 1 s ahead of the host
    p.hang_up()
    wait_until(lambda: r.events(LINK_LOST), "link_lost")
    assert r.events(LINK_LOST)[0].time == HOST + timedelta(seconds=2)


def test_a_restore_is_stamped_no_later_than_the_first_record_it_brings_back(
        pty: Callable[[], Pty], run: Starter, tmp_path: Path) -> None:
    port = tmp_path / "ttyGE"
    first = pty()
    repoint(port, first.path)
    clock = HostClock(HOST)
    link = ge_link(port, now=clock)
    link.open()
    first.receive(len(REQUEST))
    r = run(link)
    hr_times(first, r, ge_record(T0, VITALS))
    repoint(port, tmp_path / "unplugged")
    first.hang_up()
    wait_until(lambda: r.events(LINK_LOST), "link_lost")
    clock.value = HOST + timedelta(seconds=60)
    second = pty()
    repoint(port, second.path)
    second.receive(len(REQUEST))
    # Two instants arriving together (here in one record): the offset set again maps the later one to now.
    subs = [encode_subrecord(T0 + s, CLASS_BASIC, encode_basic(VITALS), DRI_LEVEL) for s in (60, 61)]
    second.send(frame(encode_phdb(60, T0 + 61, subs, DRI_LEVEL)))
    wait_until(lambda: len(r.readings()) == 6, "the readings of both instants")
    assert [x.time for x in r.readings() if x.vital == "hr"][1:] == [clock.value - timedelta(seconds=1), clock.value]
    assert r.events(LINK_RESTORED)[0].time == clock.value - timedelta(seconds=1)


# -- a decoder bug costs a chunk, never the acquisition --

POISON = 0xEE  # the record number that trips the planted bug


class PlantedBug(GeS5Decoder):
    """The real GE decoder with a bug planted: the record numbered POISON raises, as an input nobody foresaw
    would (the HL7 decoder once raised on an MDC code of 4301 digits)."""

    def _record(self, record: bytes) -> list[Item]:
        if record[2] == POISON:
            raise ValueError("planted bug")
        return super()._record(record)


def test_a_decoder_exception_is_counted_logged_once_and_acquisition_goes_on(
        pty: Callable[[], Pty], store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    p = pty()
    link = ge_link(p.path, decoder=PlantedBug("bed-1"))
    link.open()
    p.receive(len(REQUEST))
    session = store.sessions.create("bed-1", "live")
    runner = LiveRunner(store, session, link)
    runner.start()
    good, poison = ge_record(T0, VITALS), ge_record(T0 + POISON, VITALS)
    try:
        sent = 0
        for n, data in enumerate([good, poison, ge_record(T0 + 1, VITALS), poison, ge_record(T0 + 2, VITALS)]):
            p.send(data)
            sent += len(data)
            wait_until(lambda sent=sent: link.stats["bytes"] == sent, "the link to read what was sent")
            wait_until(lambda n=n: len(store.samples.readings(session)) == 2 * (n // 2 + 1), f"readings after {n}")
        assert runner.error is None and link.connected
        assert link.decoder.stats["decoder_errors"] == 2
        assert store.samples.events(session) == []  # not a link loss either
    finally:
        runner.stop()
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1  # once per cause: the second failure is only counted, and told at the end
    assert f"2 chunks of data from {p.path} were skipped: the decoder failed on them" in caplog.messages
    text = errors[0].getMessage()
    assert "decoder bug: ValueError: planted bug (test_serial_link.py:" in text and p.path in text
    logged = re.search(r"at stream byte (\d+), skipped; first bytes: ([0-9a-f ]+?)(?: \(\+\d+ more\))?$", text)
    assert logged is not None, text
    offset, head = int(logged[1]), logged[2]
    assert len(good) <= offset < len(good) + len(poison)  # where it lies in the stream (and a --raw-out capture)
    assert head == poison[offset - len(good):][:LOGGED_BYTES].hex(" ")  # the chunk as read


class PlantedHl7Bug(Hl7MllpDecoder):
    """The real HL7 decoder with a bug planted: a message whose control id is POISONED raises."""

    def _queue(self, ack: bytes) -> None:
        super()._queue(ack)
        if b"|POISONED|" in ack:
            raise ValueError("planted bug")


def hl7_message(seconds: int, control_id: str) -> bytes:
    return encode_oru([Reading(HOST + timedelta(seconds=seconds), "hr", 72.0)], control_id=control_id)


def test_no_ack_for_a_message_in_a_failed_chunk() -> None:
    """The chunk's readings are lost with it: acknowledging its messages would tell the device they arrived."""
    guarded = GuardedDecoder(PlantedHl7Bug(), "capture.raw")
    assert guarded.feed(hl7_message(0, "1") + hl7_message(1, "POISONED")) == []
    assert guarded.pending_output() == b""
    assert len(guarded.feed(hl7_message(2, "3"))) == 1 and b"MSA|AA|3" in guarded.pending_output()
    assert guarded.stats["decoder_errors"] == 1


class BrokenQueue(PlantedHl7Bug):
    def pending_output(self) -> bytes:
        raise RuntimeError("queue broken")


def test_a_failing_output_queue_is_counted_and_hands_over_nothing() -> None:
    guarded = GuardedDecoder(BrokenQueue(), "capture.raw")
    assert len(guarded.feed(hl7_message(0, "1"))) == 1
    assert guarded.pending_output() == b""
    assert guarded.stats["decoder_errors"] == 1


# -- the watchdog counts valid frames, not readings --


def test_records_without_a_live_group_keep_the_link_up_and_alone_restore_it(
        pty: Callable[[], Pty], run: Starter) -> None:
    """Every module switched off: checksum-valid records carrying no reading are a live link."""
    p = pty()
    link = ge_link(p.path, watchdog_s=0.5)
    link.open()
    p.receive(len(REQUEST))
    r = run(link)
    empty = ge_record(T0, {})
    deadline = time.monotonic() + 1.5  # three watchdog periods
    while time.monotonic() < deadline:
        p.send(empty)
        time.sleep(0.05)
    assert not r.items and link.stats["link_lost"] == 0 and link.frames_seen

    wait_until(lambda: r.events(LINK_LOST), "link_lost after the records stop")
    assert r.events(LINK_LOST)[0].text == "no bytes for 0.5 s"
    deadline = time.monotonic() + TIMEOUT
    while not r.events(LINK_RESTORED):
        assert time.monotonic() < deadline, "timed out waiting for link_restored"
        p.send(empty)
        time.sleep(0.05)
    assert [i.kind for i in r.items if isinstance(i, Event)][:2] == [LINK_LOST, LINK_RESTORED]
    assert not r.readings() and r.events(LINK_RESTORED)[0].source == "bed-1"


# -- opening leaves nothing open when it fails --


def fds_open_on(path: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:  # the directory listing's own descriptor, gone already
            pass
    return found


@pytest.mark.parametrize("failure", ["decoder start", "first write"])
def test_a_failure_after_the_port_opened_closes_the_port_and_the_capture(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: str) -> None:
    opened: list[serial.SerialBase] = []
    real = serial.serial_for_url

    def refuse(data: bytes) -> int:
        raise ValueError("cannot write")

    def spy(*args: object, **kwargs: object) -> serial.SerialBase:
        port = real(*args, **kwargs)
        if failure == "first write":
            port.write = refuse  # type: ignore[method-assign]
        opened.append(port)
        return port

    monkeypatch.setattr(serial, "serial_for_url", spy)
    raw = tmp_path / "session.raw"
    # An interval GE's 16-bit field cannot carry: encoding the request raises struct.error.
    decoder = GeS5Decoder("bed-1", interval_s=70_000 if failure == "decoder start" else DEFAULT_INTERVAL_S)
    link = ge_link("loop://", raw_out=raw, decoder=decoder)
    with pytest.raises(struct.error if failure == "decoder start" else ValueError):
        link.open()
    assert len(opened) == 1 and not opened[0].is_open
    assert not link.connected and fds_open_on(raw) == []


def test_a_port_that_does_not_open_at_first_is_reported_lost_then_reopened(tmp_path: Path, run: Starter) -> None:
    """One bed of a site: its missing port must not stop the others, and must not go unseen either."""
    url = tmp_path / "ttyUSB0"
    link = ge_link(url)
    reason = link.open_or_report()
    assert reason is not None and reason.startswith(f"cannot open {url}") and "no such device" in reason
    running = run(link)
    wait_until(lambda: running.events(LINK_LOST), "the outage reported")
    assert [e.text for e in running.events(LINK_LOST)] == [reason]
    monitor = Pty()
    try:
        url.symlink_to(monitor.path)  # the adapter is plugged in
        assert monitor.receive(len(REQUEST)) == REQUEST
        monitor.send(ge_record(T0, VITALS))
        wait_until(lambda: running.readings() and running.events(LINK_RESTORED), "the link restored, and data")
        assert len(running.events(LINK_LOST)) == 1
    finally:
        monitor.hang_up()
