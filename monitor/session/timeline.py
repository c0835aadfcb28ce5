"""Where a session stands on its timeline: the anchor, each checkpoint's state, the countdown.

Pure and clock-free: the caller passes "now" — the session clock (`monitor.timeutil.SessionClock`: a
replay's position, or the live wall clock), never read here — so the bed view, the checkpoint alarms and
the tests agree at any replay speed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.model.reading import DOSE_KINDS, Event
from monitor.session.types import Checkpoint, SessionType

# A checkpoint's state at "now": not open yet; open and waiting; past its overdue time with nothing;
# satisfied in time; satisfied after it was overdue.
UPCOMING, DUE, OVERDUE, DONE, LATE = "upcoming", "due", "overdue", "done", "late"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def anchor_time(events: Iterable[Event]) -> datetime | None:
    """The session's time zero: its first dose event (an infusion's start or the first device)."""
    return min((e.time for e in events if e.kind in DOSE_KINDS), default=None)


@dataclass(frozen=True)
class CheckpointState:
    checkpoint: Checkpoint
    opens: datetime
    due: datetime
    overdue_at: datetime | None
    done_at: datetime | None
    status: str


def _done_at(cp: Checkpoint, opens: datetime, anchor: datetime, nibp_times: Sequence[datetime],
             events: Sequence[Event], now: datetime) -> datetime | None:
    if cp.event_kind is not None:
        return min((e.time for e in events if e.kind == cp.event_kind and anchor <= e.time <= now), default=None)
    i = bisect_left(nibp_times, opens)
    return nibp_times[i] if i < len(nibp_times) and nibp_times[i] <= now else None


def checkpoint_states(stype: SessionType, anchor: datetime | None, nibp_times: Sequence[datetime],
                      events: Sequence[Event], now: datetime) -> list[CheckpointState]:
    """Every checkpoint of the type at `now`; none before the anchor exists. `nibp_times` sorted."""
    if anchor is None:
        return []
    states = []
    for cp in stype.checkpoints:
        opens, due = anchor + minutes(cp.opens_min), anchor + minutes(cp.at_min)
        overdue_at = None if cp.overdue_min is None else anchor + minutes(cp.overdue_min)
        done = _done_at(cp, opens, anchor, nibp_times, events, now)
        if done is not None:
            status = DONE if overdue_at is None or done <= overdue_at else LATE
        elif now < opens:
            status = UPCOMING
        elif overdue_at is not None and now > overdue_at:
            status = OVERDUE
        else:
            status = DUE
        states.append(CheckpointState(cp, opens, due, overdue_at, done, status))
    return states


def next_checkpoint(states: Iterable[CheckpointState]) -> CheckpointState | None:
    """What the nurse must do next: an overdue checkpoint first, then the earliest one not yet done."""
    pending = [s for s in states if s.status in (OVERDUE, DUE, UPCOMING) and not s.checkpoint.optional]
    pending.sort(key=lambda s: (s.status != OVERDUE, s.due))
    return pending[0] if pending else None


@dataclass(frozen=True)
class Countdown:
    anchor: datetime | None
    elapsed: timedelta | None  # since the anchor
    observation_end: datetime | None  # anchor + the type's observation period
    remaining: timedelta | None  # until observation_end, never negative
    peak_window: tuple[datetime, datetime] | None
    states: list[CheckpointState]
    next: CheckpointState | None


def countdown(stype: SessionType, events: Sequence[Event], nibp_times: Sequence[datetime], now: datetime) -> Countdown:
    anchor = anchor_time(e for e in events if e.time <= now)
    states = checkpoint_states(stype, anchor, nibp_times, events, now)
    if anchor is None:
        return Countdown(None, None, None, None, None, states, None)
    observation = stype.observation_min
    end = None if observation is None else anchor + minutes(observation)
    peak = stype.peak_window_min
    return Countdown(
        anchor=anchor,
        elapsed=now - anchor,
        observation_end=end,
        remaining=None if end is None else max(end - now, timedelta(0)),
        peak_window=None if peak is None else (anchor + minutes(peak[0]), anchor + minutes(peak[1])),
        states=states,
        next=next_checkpoint(states),
    )
