"""The replay runner: a thread that moves a recording's readings into the store, and nothing else.

Opened by `monitor/runtime/bed.py` and started by its caller (never at import), it is the single writer
for its session: each batch that falls due is committed in one transaction before anything may show or
alarm on it; then the live alarm engine (if given) evaluates it, and the replay clock ticks it between
batches. Replay controls
(pause, resume, speed, seek) are applied under a lock and wake the loop at once; the session clock
is written to the store so every dashboard, in this process or another, shows the same "now".
A repeating replay (`vigil demo`'s chairs) goes back to its start when it has played to the end, as a seek
back there would: the session shows the recording again from its beginning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.files.replay import MAX_SPEED, ReplaySource
from adapters.model.reading import split_items
from monitor.alarms.live import LiveAlarms
from monitor.errors import first_line
from monitor.store import Store

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5  # longest sleep: bounds how late a stop request is noticed
BATCH_WINDOW_S = 0.05  # at high replay speeds, gather what falls due in 50 ms into one commit


class ReplayRunner:
    """Runs a `ReplaySource` into a store session on a background thread."""

    def __init__(
        self,
        store: Store,
        session_id: int,
        source: ReplaySource,
        monotonic: Callable[[], float] = time.monotonic,
        alarms: LiveAlarms | None = None,
        *,
        repeat: bool = False,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.source = source
        self.alarms = alarms
        self.repeat = repeat
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"replay-{session_id}", daemon=True)
        self.error: BaseException | None = None
        self.done = threading.Event()
        store.sessions.set_span(session_id, source.start, source.end)

    # -- lifecycle --

    def start(self) -> None:
        self._publish_clock()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the whole recording is stored (or the runner failed); True if it finished."""
        return self.done.wait(timeout)

    # -- controls (any thread) --

    def pause(self) -> None:
        self._control(lambda now: self.source.pause(now))

    def resume(self) -> None:
        self._control(lambda now: self.source.resume(now))

    def play(self) -> None:
        """Play, as a player's button does: on from where the replay stands, or from the start once it has ended
        (the session is rewound as by a seek, so nothing is stored twice)."""
        if self.source.finished:
            self.seek(self.source.start)
        self.resume()

    def set_speed(self, speed: float | str) -> None:
        self._control(lambda now: self.source.set_speed(speed, now))

    def seek(self, target: datetime) -> None:
        self._control(lambda now: self._seek(target, now))

    def _seek(self, target: datetime, now: float) -> None:
        """Move to `target` (under the lock); what was stored after it goes when the replay went back."""
        if self.source.seek(target, now):
            self.store.samples.truncate_after(self.session_id, self.source.position(now))
            if self.alarms is not None:
                self.alarms.rebuild(self.source.position(now))
            self.done.clear()

    def _control(self, action: Callable[[float], None]) -> None:
        with self._lock:
            action(self._monotonic())
            self._publish_clock()
        self._wake.set()

    def _publish_clock(self) -> None:
        """Write the session clock: where the replay is and how fast it moves per wall second."""
        now = self._monotonic()
        moving = not (self.source.paused or self.source.finished or self.source.speed == MAX_SPEED)
        self.store.sessions.set_clock(
            self.session_id, self.source.position(now), datetime.now(UTC), self.source.speed if moving else 0.0
        )

    # -- the loop --

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                with self._lock:
                    now = self._monotonic()
                    readings, events = split_items(self.source.due(now))
                    wrote = bool(readings or events)
                    if wrote:
                        self.store.samples.write(self.session_id, readings, events)
                        if self.alarms is not None:  # only what is committed is alarmed on
                            self.alarms.process(readings, events)
                        if self.source.speed == MAX_SPEED and not self.source.finished:
                            self._publish_clock()  # at max speed the clock only moves with the data
                    if self.alarms is not None and self.source.speed != MAX_SPEED and not self.source.paused:
                        self.alarms.tick(self.source.position(now))
                    if self.source.finished and self.repeat:
                        self._seek(self.source.start, now)
                        self._publish_clock()
                    elif self.source.finished and not self.done.is_set():
                        self._publish_clock()
                        self.done.set()
                    wait = self.source.seconds_until_next(self._monotonic())
                if wait == 0.0 and self.source.speed == MAX_SPEED:
                    continue  # as fast as possible: the batch size bounds each commit
                if wrote and wait is not None:
                    wait = max(wait, BATCH_WINDOW_S)
                self._wake.wait(IDLE_WAIT_S if wait is None else min(wait, IDLE_WAIT_S))
        except BaseException as exc:  # the thread must report, never die silently
            log.error("replay of session %s failed: %s", self.session_id, first_line(exc))
            log.debug("replay failure detail", exc_info=True)
            self.error = exc
            self.done.set()
