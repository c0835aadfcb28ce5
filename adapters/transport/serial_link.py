"""The serial link: the I/O edge between a port (or a pyserial URL) and a sans-I/O decoder.

Decoders know bytes and frames; this module owns everything they must not: the port, reconnection with
backoff, the watchdog that notices a silent or misconfigured line, the raw-byte capture, and the host
clock. Link trouble never raises out of `run`: it becomes a `link_lost` event, then a reconnect, so
the bed view can show the outage while acquisition heals itself. No thread is started here; the caller
runs `run` in its own.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal

import serial

from adapters.model.reading import LINK_LOST, LINK_RESTORED, Event, Reading
from adapters.protocols.base import Decoder, GuardedDecoder, Item, LineSettings

try:
    import termios

    # pyserial lets termios.error out of open() when the terminal rejects its settings (a pty whose
    # other end just closed answers EINVAL).
    _OPEN_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, termios.error)
except ImportError:  # Windows: pyserial reports everything as SerialException
    _OPEN_ERRORS = (OSError, ValueError)

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.2  # how often the loop looks at the stop flag and the watchdog
WRITE_TIMEOUT_S = 1.0  # a write stuck this long (flow control never released) is link trouble
# Host clock: how far the device clock, mapped through the offset, may stray from the host before the
# offset is set again (drift, the monitor's clock being set, an emulator running faster than real time —
# replaying one fast is what `--clock device` is for: the host clock cannot follow it).
CLOCK_SLACK_S = 2.0

Sink = Callable[[list[Item]], None]

_PORTS = "ls /dev/ttyUSB* /dev/serial/by-id/"
_NO_DEVICE = f"no such device — check the port name ({_PORTS}) and that the adapter is plugged in"
_IN_USE = "the port is in use by another program — close it (another vigil, minicom, screen; `fuser {url}`)"
_PERMISSION = "permission denied — add your user to the dialout group (sudo usermod -aG dialout $USER, log in again)"
_NOT_A_PORT = f"not a serial port — check the port name ({_PORTS})"
_BY_ERRNO = {
    errno.ENOENT: _NO_DEVICE,
    errno.ENODEV: _NO_DEVICE,
    errno.ENXIO: _NO_DEVICE,
    errno.EBUSY: _IN_USE,
    errno.EAGAIN: _IN_USE,  # flock(LOCK_NB) refused: another process holds the port exclusively
    errno.EACCES: _PERMISSION,
    errno.EPERM: _PERMISSION,
    errno.EISDIR: _NOT_A_PORT,
    errno.ENOTTY: _NOT_A_PORT,
}
# pyserial on Windows reports the OS error only in its message text.
_BY_TEXT = {"FileNotFoundError": _NO_DEVICE, "PermissionError": _IN_USE, "Could not configure port": _NOT_A_PORT}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LinkConfig:
    """Where to read, how the line is set, and how received data is named, captured and timed."""

    url: str  # anything serial.serial_for_url accepts: /dev/ttyUSB0, COM3, socket://h:p, rfc2217://h:p, loop://
    settings: LineSettings
    source: str  # source name of the link's own events
    watchdog_s: float = 10.0  # no valid frame for this long = link lost
    raw_out: Path | None = None  # every received byte is appended here (what `vigil decode` reads back)
    clock: Literal["host", "device"] = "host"
    # What to check on the monitor when nothing arrives, for this protocol, e.g. "the monitor's Computer
    # Interface output and a null-modem cable"; the "no data at all" warning names it.
    setup_hint: str = ""


class LinkError(Exception):
    """One-line, user-facing: what failed and what to check."""


def open_error_message(url: str, settings: LineSettings, exc: Exception) -> str:
    """Turn pyserial's open failure into one line saying what to check."""
    text = str(exc).removeprefix(f"Could not open port {url}: ")
    if isinstance(exc, ValueError):
        if "baud" in text.lower():
            return f"cannot open {url}: --baud {settings.baudrate} is not supported by this port ({text})"
        if "URL" in text or "://" in text:
            return (f"cannot open {url}: invalid URL ({text}) — use a device (/dev/ttyUSB0, COM3), socket://host:port, "
                    "rfc2217://host:port or loop://")
        return f"cannot open {url}: invalid line settings {settings.describe()} ({text})"
    hint = _BY_ERRNO.get(getattr(exc, "errno", None) or 0)
    if hint is None:
        hint = next((h for key, h in _BY_TEXT.items() if key in text), None)
    if hint is None:
        return f"cannot open {url}: {text} — check the port name and that the device is connected and reachable"
    return f"cannot open {url}: {hint.replace('{url}', url)}"


class SerialLink:
    """Reads a port into a decoder and hands stamped readings and link events to a sink, reconnecting forever."""

    def __init__(self, config: LinkConfig, decoder: Decoder, *, now: Callable[[], datetime] = _utc_now,
                 backoff: tuple[float, float] = (0.5, 10.0)) -> None:
        self.config = config
        self.decoder = GuardedDecoder(decoder, config.url)  # a decoder bug costs a chunk, never the link
        self.frames_seen = False  # a valid frame since open: tells "no data at all" from an outage
        self.stats: Counter[str] = Counter()
        self._now = now
        self._backoff = backoff
        self._delay = backoff[0]
        self._port: serial.SerialBase | None = None
        self._raw: BinaryIO | None = None
        self._fault: str | None = None  # a write failure, reported by the loop as a link loss
        self._lost = False  # a link_lost was emitted and no valid frame arrived since
        self._warned_no_data = False
        self._quiet_since = 0.0  # monotonic time of the last valid frame, or of the (re)open
        self._bytes_since_frame = False
        self._valid_frames = 0  # decoder.stats["valid_frames"] at the last look
        self._device_anchor: tuple[datetime, datetime] | None = None  # (last device time, host time then)
        self._delivered_upto: datetime | None = None  # the latest time handed to the sink
        self._offset: timedelta | None = None  # host − device, set by the first device time after a (re)connect
        self._behind_since: datetime | None = None  # host time since which every chunk lagged beyond the slack

    @property
    def connected(self) -> bool:
        return self._port is not None

    @property
    def source(self) -> str:
        return self.config.source

    def open(self) -> None:
        """First open; raises LinkError with what to check, so a wrong port fails at start, not silently."""
        if self.config.raw_out is not None and self._raw is None:
            try:
                self._raw = self.config.raw_out.open("ab")
            except OSError as exc:
                raise LinkError(f"cannot write the raw capture {self.config.raw_out}: {exc.strerror}") from exc
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def open_or_report(self) -> str | None:
        """First open for a link that must not stop anything else (one bed of a site): a port that does not
        open is reported by `run` as a lost link (the reason in its event), then reopened with backoff like
        any outage. Returns why it did not open, or None."""
        try:
            self.open()
        except LinkError as exc:
            self._fault = str(exc)
            return str(exc)
        return None

    def close(self) -> None:
        self._close_port()
        if self._raw is not None:
            self._raw.close()
            self._raw = None
        if failed := self.decoder.stats["decoder_errors"]:  # each cause was logged once, when it first happened
            log.warning("%d chunks of data from %s were skipped: the decoder failed on them", failed, self.config.url)

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """Read, decode and deliver until `stop` is set; link trouble is reported to `sink`, never raised."""
        if self._port is None and self._fault is not None:  # the first open failed (`open_or_report`)
            self._lose(self._fault, sink)
        while not stop.is_set():
            port = self._port
            if port is None:
                self._reconnect(stop)
            else:
                self._step(port, sink)

    # -- connection --

    def _connect(self) -> None:
        s = _settings_for_port(self.config.url, self.config.settings)
        try:
            self._port = serial.serial_for_url(
                self.config.url, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity, stopbits=s.stopbits,
                rtscts=s.rtscts, timeout=READ_TIMEOUT_S, write_timeout=WRITE_TIMEOUT_S, exclusive=True,
            )
        except _OPEN_ERRORS as exc:  # SerialException is an OSError
            raise LinkError(open_error_message(self.config.url, self.config.settings, exc)) from exc
        try:
            self._fault = None
            self._quiet_since = time.monotonic()
            self._bytes_since_frame = False
            self._valid_frames = self.decoder.stats["valid_frames"]
            self._offset, self._behind_since = None, None  # the device may have been restarted or swapped
            self.decoder.start()
            self._send(self.decoder.pending_output())
        except BaseException:  # a decoder bug, a request that cannot be encoded: leave no port open
            self._close_port()
            raise

    def _close_port(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def _reconnect(self, stop: threading.Event) -> None:
        """One backoff wait (cut short by `stop`) and one reopen attempt; the delay resets when data flows."""
        if stop.wait(self._delay):
            return
        self._delay = min(self._delay * 2, self._backoff[1])
        try:
            self._connect()
        except LinkError as exc:
            self.stats["reopen_failures"] += 1
            log.debug("reopen failed: %s", exc)
            return
        self.stats["reconnects"] += 1
        log.info("reopened %s", self.config.url)

    def _send(self, data: bytes) -> None:
        if not data or self._port is None:
            return
        try:
            self._port.write(data)
        except OSError as exc:
            self._fault = f"write failed: {exc}"

    # -- the read loop --

    def _step(self, port: serial.SerialBase, sink: Sink) -> None:
        """Read one chunk (or time out), deliver what it decodes, and check the watchdog."""
        try:
            data = port.read(max(1, port.in_waiting))
        except OSError as exc:
            self._lose(f"read failed: {exc}", sink)
            return
        if data:
            host_now = self._now()
            items = self._receive(data, host_now)
            valid = self.decoder.stats["valid_frames"]
            if items or valid > self._valid_frames:  # a frame with no reading in it is a live link too
                self._valid_frames = valid
                self._deliver(items, host_now, sink)
        if self._fault is not None:
            self._lose(self._fault, sink)
        elif time.monotonic() - self._quiet_since >= self.config.watchdog_s:
            self._watchdog(sink)

    def _receive(self, data: bytes, host_now: datetime) -> list[Item]:
        self.stats["bytes"] += len(data)
        self._bytes_since_frame = True
        self._tee(data)
        items = self.decoder.feed(data)
        self._send(self.decoder.pending_output())
        return self._stamp(items, host_now)

    def _tee(self, data: bytes) -> None:
        """Append to the raw capture; a full disk stops the capture, never the monitoring."""
        if self._raw is None:
            return
        try:
            self._raw.write(data)
            self._raw.flush()
        except OSError as exc:
            log.error("raw capture %s stopped: %s", self.config.raw_out, exc)
            self._raw.close()
            self._raw = None

    def _deliver(self, items: list[Item], host_now: datetime, sink: Sink) -> None:
        """The link is alive: reset the watchdog; announce a restore before what the frames carried."""
        self.stats["items"] += len(items)
        self.frames_seen = True
        self._quiet_since = time.monotonic()
        self._bytes_since_frame = False
        self._delay = self._backoff[0]
        if self._lost:
            self._lost = False
            log.info("link restored on %s", self.config.url)
            # No later than the first record it brings back (a chunk may hold several; NIBP readings carry
            # their measurement time, which may lie in the outage, so continuous readings say when).
            now = self._event_time(host_now)
            first = min((i.time for i in items if isinstance(i, Reading) and i.measured_at is None), default=now)
            items = [Event(self._after_delivered(min(first, now)), LINK_RESTORED, source=self.config.source), *items]
        if items:
            self._hand_over(items, sink)

    def _watchdog(self, sink: Sink) -> None:
        n = f"{self.config.watchdog_s:g}"
        settings = self.config.settings.describe()
        if self._bytes_since_frame:
            reason = f"bytes but no valid frame for {n} s (check line settings {settings} and --protocol)"
        else:
            reason = f"no bytes for {n} s"
        if not self.frames_seen and not self._warned_no_data:
            self._warned_no_data = True
            hint = f"{self.config.setup_hint}, " if self.config.setup_hint else ""
            log.warning("no data from %s in %s s — check %sthe cable, the line settings (%s) and --protocol",
                        self.config.url, n, hint, settings)
        self._lose(reason, sink)

    def _lose(self, reason: str, sink: Sink) -> None:
        """Close the port for a reconnect; report the outage once, however many attempts it takes."""
        self._close_port()
        self._fault = None
        if self._lost:
            log.debug("still down (%s)", reason)
            return
        self._lost = True
        self.stats["link_lost"] += 1
        log.warning("link lost on %s: %s", self.config.url, reason)
        lost = Event(self._after_delivered(self._event_time(self._now())), LINK_LOST, reason, source=self.config.source)
        self._hand_over([lost], sink)

    def _hand_over(self, items: list[Item], sink: Sink) -> None:
        newest = max(i.time for i in items)
        self._delivered_upto = newest if self._delivered_upto is None else max(self._delivered_upto, newest)
        sink(items)

    def _after_delivered(self, t: datetime) -> datetime:
        """A link event's time, moved after everything delivered before it: on the host clock a reading may
        be stamped up to CLOCK_SLACK_S ahead of its arrival, and a loss noticed after it must not precede it
        (a signal-loss alarm would be announced before its onset)."""
        return t if self._delivered_upto is None else max(t, self._delivered_upto)

    # -- time --

    def _stamp(self, items: list[Item], host_now: datetime) -> list[Item]:
        """Device mode: pass through. Host mode: device time plus a persistent offset (host − device).

        The offset holds across chunks, so a burst read after a stall keeps the device's spacing and
        never lands before what was stamped already, and a repeated device time maps to the same host
        time. It is set again only when the mapped newest device time strays beyond CLOCK_SLACK_S from
        the host: ahead at once (data cannot arrive before it was measured); behind only once every
        chunk for CLOCK_SLACK_S of host time has been behind — a backlog read after a stall lags for
        a moment, possibly over several chunks, while a clock that was set back lags for good.
        """
        device_times = [i.device_time for i in items if isinstance(i, Reading) and i.device_time is not None]
        newest = max(device_times, default=None)
        if newest is not None:
            self._device_anchor = (newest, host_now)
        if self.config.clock == "device":
            return items
        if newest is not None:
            self._track_offset(newest, host_now)
        return [_on_host_clock(i, host_now, self._offset) for i in items]

    def _track_offset(self, newest: datetime, host_now: datetime) -> None:
        if self._offset is None:
            self._offset = host_now - newest
            return
        error = (newest + self._offset - host_now).total_seconds()
        if error >= -CLOCK_SLACK_S:
            self._behind_since = None
        elif self._behind_since is None:
            self._behind_since = host_now
        stuck = self._behind_since is not None and (host_now - self._behind_since).total_seconds() >= CLOCK_SLACK_S
        if error > CLOCK_SLACK_S or stuck:
            self.stats["clock_reanchors"] += 1
            log.info("device clock on %s is %+.1f s off the host clock: re-anchored", self.config.url, error)
            self._offset, self._behind_since = host_now - newest, None

    def _event_time(self, host_now: datetime) -> datetime:
        """Host clock, or in device mode the last device time seen plus the host time elapsed since."""
        if self.config.clock == "device" and self._device_anchor is not None:
            device, host = self._device_anchor
            return device + (host_now - host)
        return host_now


def _settings_for_port(url: str, settings: LineSettings) -> LineSettings:
    """A pseudo-terminal (`vigil simulate`) has no wire: Linux drops parity on it and answers a change of
    parity alone with EINVAL, so every reopen of the same pty would fail. Open ptys without parity."""
    return replace(settings, parity="N") if settings.parity != "N" and _is_pty(url) else settings


def _is_pty(url: str) -> bool:
    """A Linux Unix98 pty slave (character device, majors 136–143)."""
    if os.name != "posix":
        return False
    try:
        st = os.stat(url)
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(st.st_mode) and 136 <= os.major(st.st_rdev) <= 143


def _on_host_clock(item: Item, host_now: datetime, offset: timedelta | None) -> Item:
    if isinstance(item, Reading) and item.device_time is not None and offset is not None:
        earlier = item.time - item.device_time  # NIBP: measured before the record that carried it
        return replace(item, time=item.device_time + offset + earlier)
    return replace(item, time=host_now)
