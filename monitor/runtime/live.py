"""The live acquisition runner: a monitor's serial link into a store session, on background threads.

Like the replay runner it is the single writer for its session, opened by `monitor/runtime/bed.py`.
The link's thread reads, decodes and hands each batch here; the batch is committed before the alarm
engine sees it. A second thread ticks the engine once a second, so signal loss and overdue NIBP are
raised while no data arrives — which is exactly when they matter.

A bed's runner follows the bed from session to session: a batch of readings that finds its session ended ("end
session", decided in the store in the batch's own transaction) opens the bed's next session, with its own
alarm engine, and is written there; `session_id` always names the session being written. Only readings open
a session: a link event between patients (the monitor switched off after the end) is logged, not stored.

Given a spool (a chair on a database server), the runner outlives the database: while it is out of reach each
batch is committed to the spool instead, before the engine sees it, and a third thread delivers the spool,
in order, once the database is back (`monitor/runtime/spool.py`, docs/outage.md).

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
from adapters.model.vitals import NIBP_CODES
from adapters.transport.serial_link import Sink
from monitor.alarms.live import LiveAlarms
from monitor.errors import first_line
from monitor.runtime.lease import BedHeld
from monitor.runtime.spool import DB_LOST, DB_REACHED, OUTAGE_SOURCE, Spool, unreachable
from monitor.store import Store
from monitor.timeutil import SessionClock, from_us, to_us

log = logging.getLogger(__name__)

TICK_S = 1.0
RETRY_MIN_S, RETRY_MAX_S = 1.0, 5.0  # delivering the spool: tried again after 1, 2, 4, 5, 5… s
NOT_KNOWN = 0  # the session of a runner that has not reached the database yet (ids start at 1)
# What the spool remembers for a restart: when the outage began; what the alarms judge by; the last NIBP result.
SINCE, KNOWN, NIBP = "since", "alarms", "nibp"


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
        store: Store | None,
        session_id: int,
        link: Link,
        alarms: LiveAlarms | None = None,
        *,
        device_clock: bool = False,
        now: Callable[[], datetime] = _utc_now,
        on_items: Callable[[list[Reading | Event]], None] | None = None,
        next_session: Callable[[Store, datetime], tuple[int, LiveAlarms]] | None = None,
        spool: Spool | None = None,
        connect: Callable[[], Store] | None = None,
        attach: Callable[[Store], tuple[int, LiveAlarms]] | None = None,
        hold: Callable[[Store], None] | None = None,
    ) -> None:
        """`next_session(store, first)`: the bed's next session and its alarm engine, opened for a batch whose
        first item is at `first`, once the session has ended. None: the runner keeps its one session.

        `spool`: where batches go while the database is out of reach (None: a failed write fails acquisition).
        `store` None: the database was out of reach at start; `connect()` reaches it later and `attach(store)` gives
        the bed's session and its engine; until then `session_id` is `NOT_KNOWN` and `alarms` a detached engine
        (`LiveAlarms.detached`). `hold(store)`: the bed's lease, taken or confirmed before the spool is delivered;
        it raises BedHeld if another process took the bed meanwhile: the runner then stops, its spool kept."""
        self.store = store
        self.session_id = session_id
        self.link = link
        self.alarms = alarms
        self.device_clock = device_clock
        self._now = now
        self._on_items = on_items  # e.g. the CSV recorder: sees each batch after it is committed
        self._next_session = next_session
        self._spool = spool
        self._connect, self._attach, self._hold = connect, attach, hold
        self._attached: LiveAlarms | None = None  # the session's engine, reached while the spool is delivered
        self._rebuild = False  # the engine missed spooled data: re-derived once it is all delivered
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._clock: SessionClock | None = None  # the session clock as this runner last published it
        since = None if spool is None else spool.recall(SINCE)
        self._since = None if since is None else from_us(since)  # the outage's start, as marked on the record
        self.offline = store is None or (spool is not None and len(spool) > 0)  # the spool is delivered first
        self._out_of_reach = store is None  # not only delivering a spool: the database failed us
        self._threads = [
            threading.Thread(target=self._read, name=f"link-{session_id}", daemon=True),
            threading.Thread(target=self._tick, name=f"alarm-tick-{session_id}", daemon=True),
        ]
        if spool is not None:
            self._threads.append(threading.Thread(target=self._deliver, name=f"spool-{session_id}", daemon=True))
            if alarms is not None:
                for entry in spool.entries():  # a spool left by the last run: the engine takes up where it stood
                    alarms.process_offline(entry.readings, entry.events)
        self.error: BaseException | None = None
        self.readings = 0

    def start(self) -> None:
        if not self.device_clock:
            wall = self._now()
            with self._lock:
                try:
                    self._publish(SessionClock(wall, wall, 1.0))
                except Exception as exc:
                    if not self._lost(exc):
                        raise
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
        """Keep the clock; store it if the database is reached (else once it is again)."""
        self._clock = clock
        if not self.offline:
            assert self.store is not None
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
        first = min((i.time for i in items), default=None)
        with self._lock:
            committed = evaluated = False
            if not self.offline:
                try:  # durable before shown or alarmed on, and in a session still open
                    if not self._commit(readings, events, first):
                        return
                    committed = True
                    self._advance_clock(items)
                    if self.alarms is not None:
                        self.alarms.process(readings, events)
                    evaluated = True
                except Exception as exc:
                    if not self._lost(exc):
                        raise
            if self.offline:
                assert self._spool is not None
                if not committed:  # on this computer's disk before the alarm engine sees it
                    self._spool_batch(readings, events, first)
                self._advance_clock(items)
                if self.alarms is not None and not evaluated:  # fed now, unless only its save failed
                    fed = self.alarms.unsaved
                    self._spool.add_episodes(self.alarms.process_offline([] if fed else readings,
                                                                         [] if fed else events))
            self.readings += len(readings)
            if self._spool is not None and any(r.vital in NIBP_CODES and r.measured_at for r in readings):
                self._spool.remember_readings(NIBP, [r for r in readings if r.vital in NIBP_CODES])
        if self._on_items is not None:
            self._on_items(items)

    def _commit(self, readings: list[Reading], events: list[Event], first: datetime | None) -> bool:
        """Write a batch into the session, or into the bed's next one if it has ended; False if it is a link's
        news between patients (a monitor switched off after the end), logged but not stored."""
        assert self.store is not None
        while not self.store.samples.write(self.session_id, readings, events,
                                           open_only=self._next_session is not None):
            assert self._next_session is not None and first is not None
            if not readings:
                log.warning("session %s has ended and the bed has no open session: %s not stored",
                            self.session_id, ", ".join(f"{e.kind} ({e.text})" if e.text else e.kind for e in events))
                return False
            if not self.offline:
                self._close_alarms()
            self.session_id, self.alarms = self._next_session(self.store, first)
            self._attached = None  # an engine of the ended session, reached while delivering: superseded
            self._rebuild = self.offline  # delivering: the new engine sees the rest of the spool once delivered
            if self._clock is not None:
                self._publish(self._clock)
        return True

    def _advance_clock(self, items: list[Reading | Event]) -> None:
        if self.device_clock and items:
            newest = max(i.time for i in items)
            if self._clock is None or newest > self._clock.position:
                self._publish(SessionClock(newest, self._now(), 1.0))

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
                    self._tick_alarms(now)
            except Exception as exc:
                log.error("alarm tick of session %s failed: %s", self.session_id, first_line(exc))

    def _tick_alarms(self, now: datetime) -> None:
        assert self.alarms is not None
        if not self.offline:
            try:
                self.alarms.tick(now)
                return
            except Exception as exc:
                if not self._lost(exc):
                    raise
        assert self._spool is not None
        self._spool.add_episodes(self.alarms.tick_offline(now))

    # -- the database out of reach: the spool --

    def _unreachable(self, exc: BaseException) -> bool:
        return unreachable(exc, "postgresql" if self.store is None else self.store.engine.dialect.name)

    def _lost(self, exc: BaseException) -> bool:
        """A write failed: if the database is out of reach and there is a spool, acquisition goes on into it
        (True); else the error stands (False)."""
        if self._spool is None or not self._unreachable(exc):
            return False
        if not self.offline:
            log.warning("not reaching the database (%s): session %s is kept in %s until it is back",
                        first_line(exc), self.session_id, self._spool.path)
            self.offline = True
        self._out_of_reach = True
        if self.alarms is not None:
            self._spool.remember(KNOWN, self.alarms.known())  # for a restart while it is still out of reach
        return True

    def _spool_batch(self, readings: list[Reading], events: list[Event], first: datetime | None) -> None:
        """Keep a batch in the spool; the outage's first says so on the bed's record."""
        assert self._spool is not None
        lost = []
        if self._since is None and self._out_of_reach:
            self._since = first or self.session_now() or self._now()
            self._spool.remember(SINCE, to_us(self._since))
            lost = [Event(self._since, DB_LOST, f"not reaching the database since {self._since:%H:%M:%S} UTC",
                          OUTAGE_SOURCE)]
        self._spool.add(readings, [*lost, *events])

    def _deliver(self) -> None:
        """While the database is out of reach, try to deliver the spool: at once, then after 1, 2, 4, 5, 5… s."""
        wait, spool = 0.0, self._spool
        assert spool is not None
        while not self._stop.wait(wait):
            if not self.offline:
                wait = RETRY_MIN_S
                continue
            try:
                self._deliver_spool()
                wait = RETRY_MIN_S
            except BedHeld as exc:  # another process writes the bed now: nothing is delivered into it
                log.error("%s: acquisition stopped, its data kept in %s", exc, spool.path)
                self.error = exc
                self._stop.set()
            except Exception as exc:
                if not self._unreachable(exc):
                    log.error("delivering the spool of session %s failed (trying again): %s", self.session_id,
                              first_line(exc))
                wait = min(max(2 * wait, RETRY_MIN_S), RETRY_MAX_S)

    def _deliver_spool(self) -> None:
        """Reach the database, hold the bed (`hold`) and learn its session if not known yet, then deliver the spool
        oldest first, each entry removed only once the database has committed it; the last one puts the runner back
        online.

        Only this thread writes to the database while the runner is offline (new batches go to the spool, behind
        what is there), so entries are delivered without the lock: a slow or hanging database never holds up the
        link's thread or the alarms."""
        assert self._spool is not None
        store = self.store
        if store is None:
            assert self._connect is not None
            store = self._connect()
        if self._hold is not None:
            self._hold(store)
        if self.store is None:
            assert self._attach is not None
            session_id, alarms = self._attach(store)
            with self._lock:
                self.store, self.session_id, self._attached = store, session_id, alarms
        while True:
            entry = self._spool.first()
            if entry is None:
                with self._lock:
                    if self._spool.first() is None:  # nothing spooled meanwhile
                        self._reached()
                        return
                continue
            assert self.store is not None
            if entry.episodes:
                self.store.alarms.save(self.session_id, entry.episodes)
            else:
                times = [*(r.time for r in entry.readings), *(e.time for e in entry.events)]
                self._commit(entry.readings, entry.events, min(times, default=None))
            self._spool.delivered(entry.seq)

    def _reached(self) -> None:
        """The spool is delivered: the bed's record says the database is reached again, and the runner writes
        into it from now on."""
        assert self.store is not None and self._spool is not None
        if self._since is not None:
            at = self.session_now() or self._since
            self.store.samples.write(self.session_id, [], [Event(
                at, DB_REACHED, f"reached the database again at {at:%H:%M:%S} UTC (not reached since "
                                f"{self._since:%H:%M:%S} UTC)", OUTAGE_SOURCE)])
        if self._attached is not None:
            self.alarms, self._attached, self._rebuild = self._attached, None, True
        if self._rebuild and self.alarms is not None:
            self.alarms.resume()  # from everything now stored
        self._rebuild = self.offline = self._out_of_reach = False
        if self._clock is not None:
            self._publish(self._clock)
        self._since = None
        self._spool.remember(SINCE, None)
        log.warning("reached the database again: session %s delivered from %s", self.session_id, self._spool.path)
