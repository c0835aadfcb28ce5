"""Replay a recorded session on a speed-controlled clock, with pause, resume and seek.

Sans-I/O like the decoders: every method takes the caller's `now` (seconds on any monotonic
clock) and returns what is due; the caller owns sleeping and threads. So a test can drive a
two-hour session through in microseconds; the replay runner (`monitor/runtime/replay.py`) drives it
on a thread.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta

from adapters.model.reading import Event, Reading

Item = Reading | Event

MAX_SPEED = math.inf
MIN_SPEED, TOP_SPEED = 1.0, 1000.0


def parse_speed(text: str | float) -> float:
    """`max` (as fast as possible) or a factor from 1 to 1000, optionally written `60x`."""
    if isinstance(text, bool):
        raise ValueError(f"speed must be a number from 1 to 1000 or 'max', got {text!r}")
    if isinstance(text, str):
        word = text.strip().lower()
        if word == "max":
            return MAX_SPEED
        word = word.removesuffix("x").removesuffix("×")
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"speed must be a number from 1 to 1000 or 'max', got {text!r}") from None
    else:
        value = float(text)
    if value == MAX_SPEED and not isinstance(text, str):
        return value  # the programmatic spelling of `max`
    if not MIN_SPEED <= value <= TOP_SPEED:
        raise ValueError(f"speed must be from 1 to 1000 or 'max', got {text!r}")
    return value


class ReplaySource:
    """Yields a recording's readings and events when the replay clock reaches their time.

    The clock is `position = anchor_position + (now - anchor_now) × speed` while playing; at
    `max` speed it runs as fast as the consumer takes batches of `batch_size` items.
    """

    def __init__(self, items: Sequence[Item], speed: float, now: float, batch_size: int = 500) -> None:
        self._items = sorted(items, key=lambda item: item.time)
        self._times = [item.time for item in self._items]
        if not self._items:
            raise ValueError("nothing to replay: the recording holds no readings or events")
        self._next = 0
        self._speed = parse_speed(speed)
        self._paused = False
        self._anchor_pos = self._times[0]
        self._anchor_now = now
        self.batch_size = batch_size

    @property
    def start(self) -> datetime:
        return self._times[0]

    @property
    def end(self) -> datetime:
        return self._times[-1]

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def finished(self) -> bool:
        return self._next >= len(self._items)

    def position(self, now: float) -> datetime:
        """The recording time the replay has reached."""
        if self._paused or self._speed == MAX_SPEED:
            return self._anchor_pos
        elapsed = timedelta(seconds=max(now - self._anchor_now, 0.0) * self._speed)
        return min(self._anchor_pos + elapsed, self.end)

    def _reanchor(self, now: float, position: datetime | None = None) -> None:
        self._anchor_pos = self.position(now) if position is None else position
        self._anchor_now = now

    def due(self, now: float) -> list[Item]:
        """Items whose time has come, in time order; at `max` speed the next batch."""
        if self._paused or self.finished:
            return []
        if self._speed == MAX_SPEED:
            stop = min(self._next + self.batch_size, len(self._items))
        else:
            stop = bisect_right(self._times, self.position(now), lo=self._next)
        batch = self._items[self._next : stop]
        self._next = stop
        if batch and self._speed == MAX_SPEED:
            self._anchor_pos = batch[-1].time
        return batch

    def seconds_until_next(self, now: float) -> float | None:
        """Wall seconds until the next item is due; None when paused or finished (nothing to wait for)."""
        if self._paused or self.finished:
            return None
        if self._speed == MAX_SPEED:
            return 0.0
        ahead = (self._times[self._next] - self.position(now)).total_seconds()
        return max(ahead / self._speed, 0.0)

    def pause(self, now: float) -> None:
        if not self._paused:
            self._reanchor(now)
            self._paused = True

    def resume(self, now: float) -> None:
        if self._paused:
            self._anchor_now = now
            self._paused = False

    def set_speed(self, speed: float | str, now: float) -> None:
        new = parse_speed(speed)
        self._reanchor(now)
        self._speed = new

    def seek(self, target: datetime, now: float) -> bool:
        """Move the replay to `target` (clamped to the recording). Returns True if it went backwards.

        Forward, everything up to the target becomes due at once (the trend catches up); backwards,
        items after the target will be delivered again, so the caller must drop what it stored.
        """
        target = min(max(target, self.start), self.end)
        rewound = target < self.position(now)
        self._reanchor(now, target)
        if rewound:  # items not yet delivered stay due; delivered ones after the target come again
            self._next = min(self._next, bisect_right(self._times, target))
        return rewound
