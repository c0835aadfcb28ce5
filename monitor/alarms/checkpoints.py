"""Overdue checkpoints as technical alarms: sans-I/O and deterministic, like the alarm engine.

Fed the same time-ordered readings, events and clock ticks as `monitor.alarms.engine.AlarmEngine`
(`monitor.alarms.live` gives both each committed batch), it announces "BP at 40 min" exactly at its
overdue time whatever the replay speed, and ends the episode at the next NIBP measurement. Episodes use
the engine's shape (vital `nibp`, kind `technical`, direction `checkpoint`, the checkpoint's label as
source), so the store, the banner and acknowledgement treat them like any technical alarm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from adapters.model.reading import DOSE_KINDS, Event, Reading
from monitor.alarms.engine import Episode
from monitor.session.timeline import minutes
from monitor.session.types import SessionType

CHECKPOINT = "checkpoint"


class CheckpointAlarms:
    def __init__(self, stype: SessionType) -> None:
        self.checkpoints = [cp for cp in stype.checkpoints if cp.is_nibp and cp.overdue_min is not None]
        self.anchor: datetime | None = None
        self.now: datetime | None = None
        self._done: set[str] = set()
        self._open: dict[str, Episode] = {}

    def feed(self, items: Iterable[Reading | Event]) -> list[Episode]:
        out: list[Episode] = []
        for item in items:
            out += self.tick(item.time)
            if isinstance(item, Event):
                if item.kind in DOSE_KINDS and self.anchor is None:
                    self.anchor = item.time
            elif item.vital == "sbp":
                out += self._measured(item.time)
        return out

    def tick(self, now: datetime) -> list[Episode]:
        """The clock reached `now`: checkpoints past their overdue time with nothing measured alarm."""
        if self.now is not None and now <= self.now:
            return []
        self.now = now
        if self.anchor is None:
            return []
        out = []
        for cp in self.checkpoints:
            if cp.key in self._done or cp.key in self._open:
                continue
            due, overdue = self.anchor + minutes(cp.at_min), self.anchor + minutes(cp.overdue_min or 0)
            if now > overdue:
                grace = (overdue - due).total_seconds()
                self._open[cp.key] = episode = Episode(
                    vital="nibp", direction=CHECKPOINT, kind="technical", priority="medium", onset=due,
                    announced=overdue, end=None, peak=grace, limit=grace, value=grace, source=cp.label,
                )
                out.append(episode)
        return out

    def resume(self, items: Iterable[Reading | Event], now: datetime) -> list[Episode]:
        """Catch up on the session so far (time-ordered, up to `now`) without alarming on the past: a
        checkpoint already satisfied stays quiet, and one overdue and still open at `now` is announced now,
        when this engine learns of it (after a corrected dose time), not when it fell due."""
        self.feed(items)
        self.tick(now)
        self._open = {key: replace(e, announced=max(e.announced, now)) for key, e in self._open.items()}
        return list(self._open.values())

    def close(self, at: datetime) -> list[Episode]:
        """End every open checkpoint alarm at `at` and raise no more: the session ended or changed type."""
        out = [replace(e, end=at, peak=(at - e.onset).total_seconds(), value=(at - e.onset).total_seconds())
               for e in self._open.values()]
        self._open.clear()
        self._done.update(cp.key for cp in self.checkpoints)
        return out

    def _measured(self, t: datetime) -> list[Episode]:
        """An NIBP measurement at `t` satisfies every open checkpoint whose window has opened."""
        if self.anchor is None:
            return []
        out = []
        for cp in self.checkpoints:
            if cp.key in self._done or t < self.anchor + minutes(cp.opens_min):
                continue
            self._done.add(cp.key)
            episode = self._open.pop(cp.key, None)
            if episode is not None:
                late = (t - episode.onset).total_seconds()
                out.append(replace(episode, end=t, peak=late, value=late))
        return out
