"""Time in the monitor: the integer microseconds the store keeps, and the session clock.

Integers keep time exact and comparisons cheap in SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def local_zone() -> tzinfo:
    """The machine's local zone, for wall-clock times of real (not relative-time) sessions."""
    return datetime.now().astimezone().tzinfo or UTC


@dataclass(frozen=True)
class SessionClock:
    """Where a session stands — its "now" for every screen, the live alarms and each action a user takes.

    A runner publishes it (the replay position, the host time, or the newest device time) as `position`
    at wall time `wall`, moving `speed` session seconds per wall second (0: paused, finished or at max
    speed); everyone else runs it forward with `now`. The browser runs the same arithmetic between stream
    messages (`sessionNow` in vigil.js).
    """

    position: datetime
    wall: datetime
    speed: float

    def now(self, wall: datetime) -> datetime:
        """The session time at wall time `wall`; never before `position`, even if the wall clock steps back."""
        elapsed_us = max(0, to_us(wall) - to_us(self.wall))
        return from_us(to_us(self.position) + int(elapsed_us * self.speed))
