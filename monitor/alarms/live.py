"""The alarm engine run live: after each committed batch, on clock ticks, and after a limits change.

Runs inside acquisition (so alarms are raised and stored with no browser open), on the same
thread as the writes it follows: a reading is committed before the engine sees it. Limits, the
session's type and events entered on screen (a dose start, a device) are read from the store, so
what any dashboard saves, in this process or another, reaches the engines at their next batch or
tick. Beside the limit engine run the session's checkpoint alarms ("BP at 40 min" overdue). A dose event
corrected or withdrawn on screen moves both engines' time zero from then on. Only changed episodes are
written, so an unchanged alarm costs nothing per tick. While the database is out of reach the engine goes on
judging by what it last knew (`process_offline`, `tick_offline`), its changes kept in the runner's spool.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from adapters.model.reading import Event, Reading
from monitor.alarms.checkpoints import CheckpointAlarms
from monitor.alarms.engine import AlarmEngine, Episode, chronological
from monitor.limits.model import Limits, limits_from_stored
from monitor.session.baseline import BASELINE_WINDOW
from monitor.session.timeline import anchor_time
from monitor.session.types import session_type
from monitor.store import LimitsVersion, Store


class LiveAlarms:
    """`expect_dose` overrides the session type's own (a replayed file that holds a dose event)."""

    def __init__(self, store: Store, session_id: int, *, expect_dose: bool | None = None) -> None:
        self.store = store
        self.session_id = session_id
        versions = store.limits.versions(session_id)
        info = store.sessions.info(session_id)
        self._begin(limits_from_stored(versions[-1].data) if versions else Limits(), info.session_type, expect_dose)
        self._version = versions[-1].version if versions else 0
        self._amendments = info.amendments

    @classmethod
    def detached(cls, limits: Limits, type_name: str, expect_dose: bool | None = None) -> LiveAlarms:
        """An engine with no store: acquisition started while the database was out of reach, so it judges by
        what was last known (`known`) and only evaluates offline (`process_offline`, `tick_offline`) until the
        bed's session is reached and an engine on it takes over."""
        alarms = cls.__new__(cls)
        alarms._begin(limits, type_name, expect_dose)
        return alarms

    def _begin(self, limits: Limits, type_name: str, expect_dose: bool | None) -> None:
        self._expect_dose = expect_dose
        self._saved: dict[tuple, Episode] = {}
        self._unsaved: dict[tuple, Episode] = {}  # changes a failed save left: saved (or spooled) next
        self._entered = 0  # id of the last on-screen event read from the store
        self._queue: list[Event] = []  # entered events not yet fed: ahead of the engine's clock
        self._ended: datetime | None = None
        self._version = 0
        self._type = type_name
        self._amendments = 0
        self.engine = AlarmEngine(limits, expect_dose=self.expect_dose)
        self.checkpoints = CheckpointAlarms(session_type(self._type))

    @property
    def expect_dose(self) -> bool:
        return session_type(self._type).expect_dose if self._expect_dose is None else self._expect_dose

    def _pending_limits(self) -> LimitsVersion | None:
        """A limits version saved since we last applied one (cheap to ask: one indexed max())."""
        if self.store.limits.version(self.session_id) == self._version:
            return None
        return self.store.limits.versions(self.session_id)[-1]

    def _from_when(self, version: LimitsVersion) -> datetime:
        """A version applies from its effective time, or from the engine's "now" if that is later:
        what has been evaluated stays evaluated."""
        now = self.engine.now
        return version.effective if now is None else max(version.effective, now)

    def _apply(self, version: LimitsVersion) -> list[Episode]:
        self._version = version.version
        return self.engine.set_limits(limits_from_stored(version.data), self._from_when(version))

    def _changed(self, episodes: Iterable[Episode]) -> list[Episode]:
        """The episodes that differ from what was last saved, with those a failed save left, as now saved."""
        changed, self._unsaved = self._unsaved, {}
        for episode in episodes:
            if self._saved.get(episode.key) != episode:
                changed[episode.key] = self._saved[episode.key] = episode
        return list(changed.values())

    def _save(self, episodes: Iterable[Episode]) -> None:
        changed = self._changed(episodes)
        try:
            self.store.alarms.save(self.session_id, changed)
        except Exception:
            self._unsaved = {e.key: e for e in changed}  # the database is out of reach: kept for the next save
            raise

    @property
    def unsaved(self) -> bool:
        """A save failed after its batch or tick was evaluated: evaluating it again would feed it twice."""
        return bool(self._unsaved)

    def _feed(self, items: list[Reading | Event]) -> list[Episode]:
        return self.engine.feed(items) + self.checkpoints.feed(items)

    def _sync(self) -> list[Episode]:
        """Follow the session as set on screen: a new type restarts the checkpoints from what is stored
        (its dose events and NIBP measurements, so nothing done is alarmed on and the old type's alarms
        end); "end session" closes them, and nothing after the end is evaluated."""
        info = self.store.sessions.info(self.session_id)
        out: list[Episode] = []
        now = self.engine.now
        if info.session_type != self._type:
            self._type = info.session_type
            self.engine.expect_dose = self.expect_dose
            out += self.checkpoints.close(now) if now is not None else []
            self.checkpoints = CheckpointAlarms(session_type(self._type))
            if now is not None:
                nibp = [r for r in self.store.samples.readings_of(self.session_id, ["sbp"]) if r.time <= now]
                past = [e for e in self.store.samples.events(self.session_id) if e.time <= now]
                out += self.checkpoints.feed(chronological(nibp, past))
        if info.amendments != self._amendments:
            self._amendments = info.amendments
            out += self._follow_amendment(now)
        if info.ended is not None and self._ended is None:
            self._ended = info.ended
            out += self.checkpoints.close(info.ended)
        return out

    def _follow_amendment(self, now: datetime | None) -> list[Episode]:
        """An entered event was corrected or withdrawn: forget the struck one, and if time zero moved, judge
        from now on against the corrected one — the rise baseline of its window, and checkpoints counted from
        it (those of the old time zero still open end now; one already overdue by the new one alarms now)."""
        entered = self.store.samples.events_with_authors(self.session_id, entered_after=0)
        self._entered = max((s.id for s in entered), default=0)
        self._queue = [s.event for s in entered if now is None or s.event.time > now]
        if now is None:
            return []
        past = [e for e in self.store.samples.events(self.session_id) if e.time <= now]
        anchor = anchor_time(past)
        if anchor == self.checkpoints.anchor:
            return []
        window = [] if anchor is None else self.store.samples.readings(self.session_id, anchor - BASELINE_WINDOW,
                                                                        anchor)
        self.engine.move_dose(anchor, window)
        out = self.checkpoints.close(now)
        self.checkpoints = CheckpointAlarms(session_type(self._type))
        nibp = [r for r in self.store.samples.readings_of(self.session_id, ["sbp"]) if r.time <= now]
        return out + self.checkpoints.resume(chronological(nibp, past), now)

    def _entered_due(self, upto: datetime | None) -> list[Event]:
        """Events entered on screen, up to `upto` (all if None), in time order; one entered a moment
        ahead of this engine's clock waits for it."""
        entered = self.store.samples.events_with_authors(self.session_id, entered_after=self._entered)
        if entered:
            self._entered = max(s.id for s in entered)
            self._queue += [s.event for s in entered]
        due = [e for e in self._queue if upto is None or e.time <= upto]
        self._queue = [e for e in self._queue if not (upto is None or e.time <= upto)]
        return sorted(due, key=lambda e: e.time)

    def _until_end(self, t: datetime) -> bool:
        return self._ended is None or t <= self._ended

    def process(self, readings: list[Reading], events: list[Event]) -> None:
        """Evaluate a batch that has just been committed.

        A limits change effective inside the batch splits it: what was measured before the change
        is judged by the limits then in force (a dashboard's clock may run ahead of the data).
        """
        out = self._sync()
        newest = max([*(r.time for r in readings), *(e.time for e in events)], default=self.engine.now)
        items = [i for i in chronological(readings, [*self._entered_due(newest), *events]) if self._until_end(i.time)]
        version = self._pending_limits()
        if version is None:
            self._save(out + self._feed(items))
            return
        at = self._from_when(version)
        before = [item for item in items if item.time < at]
        out += self._feed(before)
        out += self._apply(version)
        out += self._feed(items[len(before):])
        self._save(out)

    def tick(self, now: datetime) -> None:
        """The session clock reached `now` with no new data: silences and checkpoints may become alarms."""
        out = self._sync()
        if self._ended is not None:
            now = min(now, self._ended)
        out += self._feed([e for e in self._entered_due(now) if self._until_end(e.time)])
        version = self._pending_limits()
        if version is not None and version.effective <= now:
            out += self._apply(version)
        self._save(out + self.engine.tick(now) + self.checkpoints.tick(now))

    def process_offline(self, readings: list[Reading], events: list[Event]) -> list[Episode]:
        """The database is out of reach: evaluate a batch the spool has committed by what the engine last knew
        (limits, type, entered events), and return the changed episodes for the spool to deliver."""
        items = [i for i in chronological(readings, events) if self._until_end(i.time)]
        return self._changed(self._feed(items))

    def tick_offline(self, now: datetime) -> list[Episode]:
        """`tick` while the database is out of reach: the changed episodes, for the spool."""
        if self._ended is not None:
            now = min(now, self._ended)
        return self._changed(self.engine.tick(now) + self.checkpoints.tick(now))

    def known(self) -> dict:
        """What this engine judges by, kept in the spool for a restart while the database is out of reach."""
        return {"limits": self.engine.limits.to_dict(), "session_type": self._type, "expect_dose": self._expect_dose}

    def resume(self) -> None:
        """Take over a session another process was evaluating (acquisition restarted after a crash): the
        engine is brought to where it stood by re-deriving from what is stored. Its episodes keep their keys,
        so they are updated, acknowledgements and all, never raised twice; nothing stored is dropped."""
        samples = self.store.samples
        times = [*(r.time for r in samples.latest(self.session_id).values()),
                 *(e.time for e in samples.events(self.session_id))]
        if times:
            self.rebuild(max(times), keep=True)

    def rebuild(self, upto: datetime, *, keep: bool = False) -> None:
        """After a rewind: re-derive every alarm from the readings still stored, as of `upto`, and drop the
        stored ones not re-derived (unless `keep`).

        Limits versions apply at their effective times; one made later than `upto` (the limits a
        user set before rewinding) applies from the start of the re-run part.
        """
        readings = self.store.samples.readings(self.session_id, None, upto)
        events = [e for e in self.store.samples.events(self.session_id) if e.time <= upto]
        versions = self.store.limits.versions(self.session_id)
        info = self.store.sessions.info(self.session_id)
        self._type, self._amendments = info.session_type, info.amendments
        self.engine = AlarmEngine(limits_from_stored(versions[0].data) if versions else Limits(),
                                  expect_dose=self.expect_dose)
        self.checkpoints = CheckpointAlarms(session_type(self._type))
        entered = self.store.samples.events_with_authors(self.session_id, entered_after=0)
        self._entered = max((s.id for s in entered), default=0)
        self._queue = [s.event for s in entered if s.event.time > upto]  # entered during the rewind: still due
        self._ended = None
        self._saved, self._unsaved = {}, {}
        out: list[Episode] = []
        pending = list(versions[1:])
        for item in chronological(readings, events):
            while pending and pending[0].effective <= item.time:
                version = pending.pop(0)
                out += self.engine.set_limits(limits_from_stored(version.data), version.effective)
            out += self._feed([item])
        if pending:
            out += self.engine.set_limits(limits_from_stored(pending[-1].data), upto)
        out += self.engine.tick(upto) + self.checkpoints.tick(upto)
        self._version = versions[-1].version if versions else 0
        self._save(out)
        if not keep:
            self.store.alarms.drop_except(self.session_id, set(self._saved))
