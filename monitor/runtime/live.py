"""The live acquisition runner: a monitor's serial link into a store session, on background threads.

Like the replay runner it is the single writer for its session, opened by `monitor/runtime/bed.py`.
The link's thread reads, decodes and hands each batch here; the batch is committed before the alarm
engine sees it. A second thread ticks the engine once a second, so signal loss and overdue NIBP are
raised while no data arrives — which is exactly when they matter.

A bed's runner follows the bed from session to session: a batch of readings that finds its session ended ("end
session", decided in the store in the batch's own transaction) opens the bed's next session, with its own
alarm engine, and is written there; `session_id` always names the session being written. Only readings open
a session: a link event between patients (the monitor switched off after the end) is logged, not stored.

The session clock is the host's wall clock when readings are stamped on it; when they keep the
device's time (`--clock device`, e.g. an emulator running faster than real time) it is the newest
device time plus the wall time since it arrived.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from adapters.model.reading import Event, Reading, split_items
from adapters.transport.serial_link import Sink
from monitor.alarms.live import LiveAlarms
from monitor.errors import first_line
from monitor.store import Store
from monitor.timeutil import SessionClock

log = logging.getLogger(__name__)

TICK_S = 1.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Resumable(Protocol):
    def resume(self, nibp: Sequence[Reading]) -> None:
        """The bed's last recorded NIBP measurement, before the first bytes (`Decoder.resume`)."""


class Link(Protocol):
    """What feeds a runner: a serial link (`adapters/transport/serial_link.py`), or an HL7 bed's share of the
    site's listener (`monitor/runtime/hl7.py`)."""

    @property
    def source(self) -> str:
        """The source name of the link's readings and events."""

    @property
    def decoder(self) -> Resumable:
        """The decoder the bed's readings go through: told what was recorded before it starts."""

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """Deliver batches to `sink` until `stop` is set; link trouble is reported as events, never raised."""

    def close(self) -> None: ...


class LiveRunner:
    """Runs a link into a store session until stopped."""

    def __init__(
        self,
        store: Store,
        session_id: int,
        link: Link,
        alarms: LiveAlarms | None = None,
        *,
        device_clock: bool = False,
        now: Callable[[], datetime] = _utc_now,
        on_items: Callable[[list[Reading | Event]], None] | None = None,
        next_session: Callable[[datetime], tuple[int, LiveAlarms]] | None = None,
    ) -> None:
        """`next_session(first)`: the bed's next session and its alarm engine, opened for a batch whose first
        item is at `first`, once the session has ended. None: the runner keeps its one session."""
        self.store = store
        self.session_id = session_id
        self.link = link
        self.alarms = alarms
        self.device_clock = device_clock
        self._now = now
        self._on_items = on_items  # e.g. the CSV recorder: sees each batch after it is committed
        self._next_session = next_session
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._clock: SessionClock | None = None  # the session clock as this runner last published it
        self._threads = [
            threading.Thread(target=self._read, name=f"link-{session_id}", daemon=True),
            threading.Thread(target=self._tick, name=f"alarm-tick-{session_id}", daemon=True),
        ]
        self.error: BaseException | None = None
        self.readings = 0

    def start(self) -> None:
        if not self.device_clock:
            wall = self._now()
            self._publish(SessionClock(wall, wall, 1.0))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        if not self._threads[0].is_alive():  # never pull the port from under a reader still in it
            self.link.close()

    def session_now(self) -> datetime | None:
        """Where the session clock stands now: the clock every screen reads, so alarms tick on the same "now"."""
        return None if self._clock is None else self._clock.now(self._now())

    def _publish(self, clock: SessionClock) -> None:
        self._clock = clock
        self.store.sessions.set_clock(self.session_id, clock.position, clock.wall, clock.speed)

    def _read(self) -> None:
        try:
            self.link.run(self._store_batch, self._stop)
        except BaseException as exc:  # the thread must report, never die silently
            log.error("acquisition of session %s failed: %s", self.session_id, first_line(exc))
            self.error = exc
            self._stop.set()

    def _store_batch(self, items: list[Reading | Event]) -> None:
        readings, events = split_items(items)
        with self._lock:
            # Durable before shown or alarmed on, and in a session still open.
            while not self.store.samples.write(self.session_id, readings, events,
                                               open_only=self._next_session is not None):
                assert self._next_session is not None
                if not readings:  # a link's news between patients (a monitor switched off): not a patient
                    log.warning("session %s has ended and the bed has no open session: %s not stored",
                                self.session_id, ", ".join(f"{e.kind} ({e.text})" if e.text else e.kind
                                                           for e in events))
                    return
                self._close_alarms()
                self.session_id, self.alarms = self._next_session(min(i.time for i in items))
                if self._clock is not None:
                    self._publish(self._clock)
            self.readings += len(readings)
            if self.device_clock and items:
                newest = max(i.time for i in items)
                if self._clock is None or newest > self._clock.position:
                    self._publish(SessionClock(newest, self._now(), 1.0))
            if self.alarms is not None:
                self.alarms.process(readings, events)
        if self._on_items is not None:
            self._on_items(items)

    def _close_alarms(self) -> None:
        """The session has ended: its engine closes what the end closes (its checkpoints) before it is
        left, whether or not a tick came in between."""
        now = self.session_now()
        if self.alarms is not None and now is not None:
            self.alarms.tick(now)  # evaluates nothing after the end

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            now = self.session_now()
            if self.alarms is None or now is None:
                continue
            try:
                with self._lock:
                    self.alarms.tick(now)
            except Exception as exc:
                log.error("alarm tick of session %s failed: %s", self.session_id, first_line(exc))
