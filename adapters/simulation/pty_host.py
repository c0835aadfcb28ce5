"""Runs an emulator on a pseudo-terminal: the only I/O of the emulators, and where line faults happen.

The slave side is what a reader opens (`vigil monitor --port /dev/pts/N`). It is put in raw mode before
anyone can open it, so the line discipline never echoes or translates a byte. The host watches the
master: on Linux `poll()` reports POLLHUP while no process holds the slave open, so the host knows when a
cable is "plugged in" and writes nothing into the void (bytes written then would be queued and arrive as
a stale burst). While a cable is unplugged the link is removed, as a pulled USB adapter's device node is:
the closed pty's number goes to the next pty opened on the machine, and a reader reconnecting through a
stale link would open that stranger's terminal (and, holding it exclusively, lock its own reader out).
The scenario clock starts when a reader connects (for request/response protocols, at its first accepted
request for data: answers before it, such as an association's, go out at the scenario's start) and runs at
`speed` × wall time.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
import tty
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from adapters.simulation.faults import Faults
from adapters.simulation.scenario import Scenario

log = logging.getLogger(__name__)

POLL_S = 0.02  # longest the loop sleeps: bounds the lag of a frame and of noticing a reader
# pyserial flushes its input queue right after opening a port: a frame sent in that instant would vanish.
CONNECT_SETTLE_S = 0.1
MAX_PENDING = 1 << 20  # bytes queued for a reader that does not read; later frames are dropped
_HANGUP = select.POLLHUP | select.POLLERR


class Emulator(Protocol):
    """A sans-I/O device: bytes from the host in, frames due on the scenario clock out."""

    scenario: Scenario
    framing_bytes: bytes

    def receive(self, data: bytes, now: datetime | None = None) -> int:
        """Consume bytes from the reader; returns how many requests were accepted."""

    def frames_due(self, now: datetime) -> list[bytes]: ...

    def next_due(self) -> datetime | None: ...


class PtyHost:
    """Serves one emulator on a pty until stopped; `stats` counts what happened on the line."""

    def __init__(self, emulator: Emulator, *, speed: float, faults: Faults | None = None,
                 link: Path | None = None, wait_for_request: bool = False) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.emulator = emulator
        self.speed = speed
        self.faults = faults
        self.link = link
        self.wait_for_request = wait_for_request
        self.stats: Counter[str] = Counter()
        self._master: int | None = None
        self._poller = select.poll()
        self._path = ""
        self._t0: float | None = None  # monotonic time at which the scenario clock started
        self._connected_at: float | None = None  # monotonic time the reader opened the slave
        self._pending = bytearray()
        self._ended = False

    def run(self, stop: threading.Event, on_path: Callable[[str], None]) -> None:
        """Serve until `stop` is set. Every new slave path (at start, after an unplug) goes to `on_path`."""
        try:
            self._open(on_path)
            while not stop.is_set():
                self._step(stop, on_path)
        except Exception:
            log.exception("pty host stopped by an error")
            raise
        finally:
            self._close()
            self._unlink()

    def _elapsed(self) -> float | None:
        """Scenario seconds since the scenario start, None before the clock starts."""
        return None if self._t0 is None else (time.monotonic() - self._t0) * self.speed

    def _at(self, elapsed: float) -> datetime:
        return self.emulator.scenario.start + timedelta(seconds=elapsed)

    def _step(self, stop: threading.Event, on_path: Callable[[str], None]) -> None:
        elapsed = self._elapsed()
        if elapsed is not None and self.faults is not None and self.faults.unplugged(elapsed):
            if self._master is not None:
                log.warning("fault: cable unplugged at %.1f s", elapsed)
                self.stats["unplugs"] += 1
                self._unlink()  # first: a reader that sees the hang-up finds no link to the old number
                self._close()
            self._emit(elapsed)  # the device keeps transmitting into the loose cable
            stop.wait(POLL_S)
            return
        if self._master is None:
            self._open(on_path)
        if not self._poll(elapsed):
            stop.wait(POLL_S)  # POLLHUP is level-triggered: pause instead of spinning
        connected_for = 0.0 if self._connected_at is None else time.monotonic() - self._connected_at
        if self._t0 is None and not self.wait_for_request and connected_for >= CONNECT_SETTLE_S:
            self._start_clock()
        elapsed = self._elapsed()
        if elapsed is not None:
            self._emit(elapsed)
        elif self.wait_for_request and self._connected_at is not None:
            self._emit(0.0)  # a handshake's answers, before the data is asked for
        if self._pending and self._connected_at is not None:
            self._write()

    def _poll(self, elapsed: float | None) -> bool:
        """Wait for input (or room for output) until the next frame is due; False while no reader."""
        assert self._master is not None
        timeout = POLL_S
        due = self.emulator.next_due()
        if elapsed is not None and due is not None:
            timeout = min(POLL_S, max(0.0, (due - self._at(elapsed)).total_seconds() / self.speed))
        self._poller.modify(self._master, select.POLLIN | (select.POLLOUT if self._pending else 0))
        events = 0
        for _, ev in self._poller.poll(timeout * 1000):
            events |= ev
        if events & _HANGUP:
            if self._connected_at is not None:
                log.info("reader disconnected from %s", self._path)
                self._pending.clear()  # nobody will read it
            self._connected_at = None
            return False
        if self._connected_at is None:
            log.info("reader connected to %s", self._path)
            self._connected_at = time.monotonic()
        if events & select.POLLIN:
            self._read()
        return True

    def _read(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            log.warning("read from %s failed: %s", self._path, e)
            return
        self.stats["bytes_received"] += len(data)
        elapsed = self._elapsed()
        now = None if elapsed is None else self._at(elapsed)
        if self.emulator.receive(data, now) and self._t0 is None and self.wait_for_request:
            self._start_clock()

    def _start_clock(self) -> None:
        self._t0 = time.monotonic()
        log.info("scenario clock started at %s, %g× real time", self.emulator.scenario.start.isoformat(), self.speed)

    def _emit(self, elapsed: float) -> None:
        """Queue the frames due now, unless nobody can hear them, through the line faults."""
        now = self._at(elapsed)
        frames = self.emulator.frames_due(now)
        if not frames:
            if not self._ended and self.emulator.next_due() is None and now >= self.emulator.scenario.end:
                self._ended = True
                log.info("scenario ended; the port stays open until stopped")
            return
        faults = self.faults
        heard = self._master is not None and self._connected_at is not None
        if not heard or (faults is not None and faults.silent(elapsed)):
            self.stats["frames_unheard"] += len(frames)
            return
        for data in frames:
            out = data if faults is None else faults.apply(data, self.emulator.framing_bytes)
            if not out:
                continue
            if len(self._pending) > MAX_PENDING:
                if not self.stats["overruns"]:
                    log.warning("reader on %s is not reading: dropping frames", self._path)
                self.stats["overruns"] += 1
                continue
            self._pending += out
            self.stats["frames_sent"] += 1

    def _write(self) -> None:
        assert self._master is not None
        try:
            n = os.write(self._master, self._pending[:65536])
        except BlockingIOError:
            return
        except OSError as e:
            log.warning("write to %s failed: %s", self._path, e)
            self._pending.clear()
            return
        del self._pending[:n]
        self.stats["bytes_sent"] += n

    def _open(self, on_path: Callable[[str], None]) -> None:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)  # before anyone can open it: no echo, no CR/LF translation, 8 bits clean
            path = os.ttyname(slave)
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._poller.register(master, select.POLLIN)
        self._master, self._path = master, path
        self._connected_at = None
        self._pending.clear()
        if self.link is not None:
            self._repoint(path)
        log.info("emulator listening on %s", path)
        on_path(path)

    def _repoint(self, path: str) -> None:
        """Point the link at the current slave atomically: a reader never finds it missing."""
        assert self.link is not None
        tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(path, tmp)
        os.replace(tmp, self.link)

    def _close(self) -> None:
        if self._master is None:
            return
        self._poller.unregister(self._master)
        try:
            os.close(self._master)
        except OSError as e:
            log.warning("closing %s failed: %s", self._path, e)
        self._master = None
        self._connected_at = None
        self._pending.clear()

    def _unlink(self) -> None:
        """Remove the link if it still names this host's pty, which no longer exists."""
        if self.link is None:
            return
        try:
            if os.readlink(self.link) == self._path:
                self.link.unlink()
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EINVAL):
                log.warning("removing %s failed: %s", self.link, e)
