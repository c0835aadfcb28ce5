"""A networked HL7 monitor in client mode (`vigil simulate --protocol hl7-mllp --connect HOST:PORT`): it
connects to a listener, sends its scenario as it happens, waits for the ACKs, resends what was not
acknowledged and reconnects when the connection breaks — as Mindray and Philips monitors do, so a whole HL7
site can be tried without hardware.

The scenario clock runs from the start whether or not a listener is reachable (a monitor measures on), and
what could not be sent waits in the emulator's `unacked`: after a reconnect every message still
unacknowledged is sent again, oldest first, at most WINDOW at a time. A message unacknowledged for
`ack_timeout_s` means a listener that is stuck or gone: the connection is dropped and made again. Stopped,
it sends nothing more but waits up to DRAIN_S for the ACKs of what is in flight, so that its summary says
what the listener had acknowledged, not what was still on the wire.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from adapters.protocols.hl7_mllp.emulator import Hl7Monitor

log = logging.getLogger(__name__)

WINDOW = 32  # messages sent and not yet acknowledged on one connection
POLL_S = 0.05
CONNECT_TIMEOUT_S = 2.0
DRAIN_S = 3.0


class MllpClient:
    """Runs one `Hl7Monitor` against a listener at host:port until stopped."""

    def __init__(self, monitor: Hl7Monitor, host: str, port: int, *, speed: float = 1.0,
                 ack_timeout_s: float = 10.0, backoff: tuple[float, float] = (0.2, 5.0)) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.monitor = monitor
        self.host, self.port = host, port
        self.speed = speed
        self.ack_timeout_s = ack_timeout_s
        self.backoff = backoff
        self.stats: Counter[str] = Counter()
        self._sock: socket.socket | None = None
        self._in_flight: dict[str, float] = {}  # control id → monotonic time sent on this connection
        self._delay = backoff[0]
        self._retry_at = 0.0

    def run(self, stop: threading.Event, on_connect: Callable[[str], None] | None = None) -> None:
        t0 = time.monotonic()
        try:
            while not stop.is_set():
                now = self.monitor.scenario.start + timedelta(seconds=(time.monotonic() - t0) * self.speed)
                self.monitor.keep(self.monitor.frames_due(now))
                if self._sock is None:
                    self._connect(on_connect)
                if self._sock is None:
                    stop.wait(POLL_S)
                    continue
                self._send()
                self._receive()
                self._check_acks()
            self._drain(time.monotonic() + DRAIN_S)
        finally:
            self._drop("stopped")

    def _drain(self, deadline: float) -> None:
        """The ACKs of the messages in flight, until they are all in or the deadline passes."""
        while self._sock is not None and self._in_flight and time.monotonic() < deadline:
            self._receive()

    def _connect(self, on_connect: Callable[[str], None] | None) -> None:
        if time.monotonic() < self._retry_at:
            return
        try:
            sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            self.stats["connect_failures"] += 1
            log.debug("cannot connect to %s:%d: %s", self.host, self.port, exc)
            self._retry_at = time.monotonic() + self._delay
            self._delay = min(self._delay * 2, self.backoff[1])
            return
        sock.settimeout(POLL_S)
        self._sock, self._in_flight = sock, {}
        self._delay = self.backoff[0]
        self.stats["connects"] += 1
        if self.stats["connects"] > 1:
            self.stats["resent"] += len(self.monitor.unacked)
        if on_connect is not None:
            on_connect(f"{self.host}:{self.port}")

    def _send(self) -> None:
        assert self._sock is not None
        for control_id, data in list(self.monitor.unacked.items()):
            if len(self._in_flight) >= WINDOW:
                return
            if control_id in self._in_flight:
                continue
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self._drop(f"send failed: {exc}")
                return
            self._in_flight[control_id] = time.monotonic()
            self.stats["frames_sent"] += 1

    def _receive(self) -> None:
        sock = self._sock
        if sock is None:
            return
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ)
            if not sel.select(POLL_S):
                return
        try:
            data = sock.recv(1 << 16)
        except TimeoutError:
            return
        except OSError as exc:
            self._drop(f"receive failed: {exc}")
            return
        if not data:
            self._drop("closed by the listener")
            return
        self.monitor.receive(data)
        self._in_flight = {c: t for c, t in self._in_flight.items() if c in self.monitor.unacked}

    def _check_acks(self) -> None:
        if self._sock is None or not self._in_flight:
            return
        if time.monotonic() - min(self._in_flight.values()) > self.ack_timeout_s:
            self.stats["ack_timeouts"] += 1
            self._drop(f"no acknowledgement in {self.ack_timeout_s:g} s")

    def _drop(self, reason: str) -> None:
        if self._sock is None:
            return
        log.info("connection to %s:%d dropped: %s", self.host, self.port, reason)
        self._sock.close()
        self._sock, self._in_flight = None, {}
        self._retry_at = time.monotonic() + self._delay
