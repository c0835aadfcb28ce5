"""The alarm engine run live: after each committed batch, on clock ticks, and after a limits change.

Runs inside acquisition (so alarms are raised and stored with no browser open), on the same
thread as the writes it follows: a reading is committed before the engine sees it. Limits are
read from the store, so a change saved by any dashboard, in this process or another, reaches the
engine at its next batch or tick and applies from its effective time. Only changed episodes are
written, so an unchanged alarm costs nothing per tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from adapters.reading import Event, Reading
from monitor.alarms import AlarmEngine, Episode, chronological
from monitor.limits import Limits, limits_from_stored
from monitor.store import LimitsVersion, Store


class LiveAlarms:
    def __init__(self, store: Store, session_id: int, *, expect_dose: bool) -> None:
        self.store = store
        self.session_id = session_id
        self.expect_dose = expect_dose
        self._version = 0
        self._saved: dict[tuple, Episode] = {}
        versions = store.limits_versions(session_id)
        self._version = versions[-1].version if versions else 0
        limits = limits_from_stored(versions[-1].data) if versions else Limits()
        self.engine = AlarmEngine(limits, expect_dose=expect_dose)

    def _pending_limits(self) -> LimitsVersion | None:
        """A limits version saved since we last applied one (cheap to ask: one indexed max())."""
        if self.store.limits_version(self.session_id) == self._version:
            return None
        return self.store.limits_versions(self.session_id)[-1]

    def _from_when(self, version: LimitsVersion) -> datetime:
        """A version applies from its effective time, or from the engine's "now" if that is later:
        what has been evaluated stays evaluated."""
        now = self.engine.now
        return version.effective if now is None else max(version.effective, now)

    def _apply(self, version: LimitsVersion) -> list[Episode]:
        self._version = version.version
        return self.engine.set_limits(limits_from_stored(version.data), self._from_when(version))

    def _save(self, episodes: Iterable[Episode]) -> None:
        changed = {}
        for episode in episodes:
            if self._saved.get(episode.key) != episode:
                changed[episode.key] = self._saved[episode.key] = episode
        self.store.save_alarms(self.session_id, changed.values())

    def process(self, readings: list[Reading], events: list[Event]) -> None:
        """Evaluate a batch that has just been committed.

        A limits change effective inside the batch splits it: what was measured before the change
        is judged by the limits then in force (a dashboard's clock may run ahead of the data).
        """
        items = list(chronological(readings, events))
        version = self._pending_limits()
        if version is None:
            self._save(self.engine.feed(items))
            return
        at = self._from_when(version)
        before = [item for item in items if item.time < at]
        out = self.engine.feed(before)
        out += self._apply(version)
        out += self.engine.feed(items[len(before):])
        self._save(out)

    def tick(self, now: datetime) -> None:
        """The session clock reached `now` with no new data: silences may become alarms."""
        version = self._pending_limits()
        out = self._apply(version) if version is not None and version.effective <= now else []
        self._save(out + self.engine.tick(now))

    def rebuild(self, upto: datetime) -> None:
        """After a rewind: re-derive every alarm from the readings still stored, as of `upto`.

        Limits versions apply at their effective times; one made later than `upto` (the limits a
        user set before rewinding) applies from the start of the re-run part.
        """
        readings = self.store.readings_between(self.session_id, None, upto)
        events = [e for e in self.store.events_upto(self.session_id) if e.time <= upto]
        versions = self.store.limits_versions(self.session_id)
        self.engine = AlarmEngine(limits_from_stored(versions[0].data) if versions else Limits(),
                                  expect_dose=self.expect_dose)
        self._saved = {}
        out: list[Episode] = []
        pending = list(versions[1:])
        for item in chronological(readings, events):
            while pending and pending[0].effective <= item.time:
                version = pending.pop(0)
                out += self.engine.set_limits(limits_from_stored(version.data), version.effective)
            out += self.engine.feed([item])
        if pending:
            out += self.engine.set_limits(limits_from_stored(pending[-1].data), upto)
        out += self.engine.tick(upto)
        self._version = versions[-1].version if versions else 0
        self._save(out)
        self.store.drop_alarms_except(self.session_id, set(self._saved))
