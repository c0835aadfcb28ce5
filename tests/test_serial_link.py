"""The serial link against real ports: pseudo-terminals (the test plays the monitor on the master side)
and pyserial's loop://, with the real GE decoder and monitor records built byte-exactly."""

from __future__ import annotations

import fcntl
import logging
import os
import select
import struct
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from support import TIMEOUT, wait_until

from adapters.protocols.base import Item, LineSettings
from adapters.protocols.ge_s5 import DEFAULT_INTERVAL_S, LINE_SETTINGS, GeS5Decoder
from adapters.protocols.ge_s5_framing import frame
from adapters.protocols.ge_s5_records import (
    CLASS_BASIC,
    NIBP_MEASURING,
    PH_DISPL,
    encode_basic,
    encode_phdb,
    encode_request,
    encode_subrecord,
)
from adapters.reading import Event, Reading
from adapters.serial_link import LinkConfig, LinkError, SerialLink

T0 = 1_800_000_000  # device time of the first record, Unix seconds
HOST = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
DRI_LEVEL = 6
REQUEST = frame(encode_request(PH_DISPL, DEFAULT_INTERVAL_S))
VITALS = {"hr": 72.0, "spo2": 98.0}
NIBP = {"sbp": 141.0, "dbp": 88.0, "map": 106.0}
GARBAGE = bytes(range(0x20, 0x7E)) * 2  # no 0x7E flag: nothing a deframer can sync on


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


class Pty:
    """A pseudo-terminal whose master end the test drives as the monitor."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.open = True

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def receive(self, n: int) -> bytes:
        """Exactly `n` bytes the link wrote, waiting at most TIMEOUT."""
        out = b""
        deadline = time.monotonic() + TIMEOUT
        while len(out) < n:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"timed out: got {len(out)} of {n} bytes from the link")
            out += os.read(self.master, n - len(out))
        return out

    def queued(self) -> int:
        """Bytes waiting in the terminal's input queue, not yet read by the link."""
        return struct.unpack("I", fcntl.ioctl(self.slave, termios.TIOCINQ, b"\0\0\0\0"))[0]

    def hang_up(self) -> None:
        """Close both ends, as when a USB adapter is pulled."""
        if self.open:
            self.open = False
            os.close(self.master)
            os.close(self.slave)


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


@pytest.fixture
def pty() -> Iterator[Callable[[], Pty]]:
    made: list[Pty] = []

    def make() -> Pty:
        made.append(Pty())
        return made[-1]

    yield make
    for p in made:
        p.hang_up()


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
            clock: Literal["host", "device"] = "host") -> SerialLink:
    """A GE link; the watchdog defaults far off so that only tests about it see it fire."""
    cfg = LinkConfig(str(url), LINE_SETTINGS, "bed-1", watchdog_s=watchdog_s, raw_out=raw_out, clock=clock)
    return SerialLink(cfg, GeS5Decoder("bed-1"), now=now or HostClock(HOST), backoff=backoff)


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
    return [rec for rec in caplog.records if rec.name == "adapters.serial_link" and "data-export" in rec.message]


def test_silence_is_one_link_lost_one_warning_and_a_request_after_every_reopen(
        pty: Callable[[], Pty], run: Starter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.serial_link")
    p = pty()
    link = ge_link(p.path, watchdog_s=0.3)
    link.open()
    r = run(link)
    wait_until(lambda: link.stats["reconnects"] >= 2, "two reopens after the watchdog fired")
    assert p.receive(3 * len(REQUEST)) == REQUEST * 3  # on open, then after each reopen
    assert [e.text for e in r.events("link_lost")] == ["no bytes for 0.3 s"]
    assert r.events("link_lost")[0].source == "bed-1"
    [warning] = no_data_warnings(caplog)
    for hint in ("data-export", "null-modem", "19200 8E1 RTS/CTS", "--protocol"):
        assert hint in warning.message
    assert not link.frames_seen


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


def test_a_loopback_echoes_the_request_which_is_bytes_but_no_frame(run: Starter) -> None:
    """loop:// is a loopback plug: the request comes back, well framed but not a data record."""
    link = ge_link("loop://", watchdog_s=0.3)
    link.open()
    r = run(link)
    wait_until(lambda: r.events("link_lost"), "link_lost")
    assert r.events("link_lost")[0].text.startswith("bytes but no valid frame for 0.3 s")
    assert link.decoder.stats["malformed_records"] >= 1


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


def test_stop_is_honoured_during_the_backoff_wait(pty: Callable[[], Pty], run: Starter) -> None:
    p = pty()
    link = ge_link(p.path, backoff=(60.0, 60.0))
    link.open()
    r = run(link)
    p.hang_up()
    wait_until(lambda: r.events("link_lost"), "link_lost")
    r.halt()  # joins within TIMEOUT, far less than the 60 s backoff
    assert not link.connected
