"""Readings and events: what acquisition commits and every view reads.

Acquisition writes readings and events here first, in one transaction per batch; only what is committed is
shown or alarmed on. Readers ask "what is new since cursor X", where the cursor is the autoincrement id of
the readings and events tables, so a reconnecting dashboard resumes without gaps; writers to one session
commit in id order (`hold_cursor`), so that holds with several writers on PostgreSQL too. Writes are idempotent (a
unique key per reading and event), so re-importing or re-replaying a file after a crash never duplicates
anything. An entered event that a clinician corrected or withdrew is struck, never deleted: every read
gives the events in force unless asked for the struck ones too (the session record shows both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from adapters.model.reading import Event, Reading
from monitor.store.alarms import alarm_revision
from monitor.store.audit import write_audit
from monitor.store.database import Database, hold_cursor, inserted_id
from monitor.store.schema import alarms, events, readings, sessions
from monitor.store.sessions import claim_open
from monitor.timeutil import from_us, to_us


@dataclass(frozen=True)
class Cursor:
    """Position in a session's stream: the last reading id, event id and alarm revision delivered."""

    reading: int = 0
    event: int = 0
    alarm: int = 0

    def __str__(self) -> str:
        return f"{self.reading}-{self.event}-{self.alarm}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """Parse `r-e-a`; anything malformed means "from the start", never an error."""
        try:
            r, e, a = (text or "").split("-")
            return cls(max(int(r), 0), max(int(e), 0), max(int(a), 0))
        except ValueError:
            return cls()


@dataclass(frozen=True)
class StoredReading:
    id: int
    reading: Reading


@dataclass(frozen=True)
class Strike:
    """Why an entered event no longer counts: corrected (a new event replaces it) or withdrawn."""

    at: datetime  # wall-clock time of the correction or withdrawal
    by: str
    reason: str


@dataclass(frozen=True)
class StoredEvent:
    id: int
    event: Event
    entered_by: str | None = None  # who entered it on screen; None when a monitor or a file sent it
    corrects: int | None = None  # the id of the event this one replaced, if it is a correction
    struck: Strike | None = None  # set once corrected or withdrawn: it no longer counts


def reading_from_row(row: Any) -> Reading:
    """A stored reading row as the `Reading` it was."""
    return Reading(
        time=from_us(row.t_us),
        vital=row.vital,
        value=row.value,
        source=row.source,
        device_time=None if row.device_us is None else from_us(row.device_us),
        measured_at=None if row.measured_us is None else from_us(row.measured_us),
        flags=frozenset(f for f in row.flags.split(",") if f),
    )


def _event(row: Any) -> Event:
    return Event(time=from_us(row.t_us), kind=row.kind, text=row.text, source=row.source)


def _stored_event(row: Any) -> StoredEvent:
    struck = None if row.struck_us is None else Strike(from_us(row.struck_us), row.struck_by, row.struck_reason)
    return StoredEvent(row.id, _event(row), row.entered_by, row.corrects, struck)


IN_FORCE = events.c.struck_us.is_(None)


class Samples:
    """A session's readings and events. Reads by time are `readings`/`events`, optionally pinned to a cursor
    id (`max_id`); reads in commit order after a cursor id are `readings_since`/`events_since`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes --

    def write(
        self, session_id: int, new_readings: Iterable[Reading] = (), new_events: Iterable[Event] = (), *,
        open_only: bool = False,
    ) -> bool:
        """Commit readings and events in one transaction; duplicates of stored ones are ignored.

        Returns only after the commit: a reading counts as recorded from then on. `open_only`: only into a
        session still open — False, and nothing written, once it has ended (decided in the same transaction
        as "end session", so a batch lands either before the end or, given to the next session, after it).
        """
        reading_rows = [
            {
                "session_id": session_id,
                "t_us": to_us(r.time),
                "vital": r.vital,
                "value": r.value,
                "source": r.source,
                "device_us": None if r.device_time is None else to_us(r.device_time),
                "measured_us": None if r.measured_at is None else to_us(r.measured_at),
                "flags": ",".join(sorted(r.flags)),
            }
            for r in new_readings
        ]
        event_rows = [
            {"session_id": session_id, "t_us": to_us(e.time), "kind": e.kind, "text": e.text, "source": e.source}
            for e in new_events
        ]
        if not reading_rows and not event_rows:
            return True
        with self.db.engine.begin() as conn:
            hold_cursor(conn, session_id)
            if open_only and not claim_open(conn, session_id):
                return False
            self.db.upsert(conn, readings, reading_rows)
            self.db.upsert(conn, events, event_rows)
        self.db.notify()
        return True

    def enter_event(self, session_id: int, event: Event, who: str, at: datetime,
                    proceed: tuple[str, str] | None = None) -> bool:
        """A dose event or note entered on screen: stored with who entered it, and audited, in one transaction.

        `proceed` (what the BP gate found, the reason given) is audited with it. Returns False, and records
        nothing, if the same event is already stored or the dose event was already entered (a double click,
        or two screens at once: the `uq_dose_in_force` index decides).
        """
        row = {"session_id": session_id, "t_us": to_us(event.time), "kind": event.kind, "text": event.text,
               "source": event.source, "entered_by": who}
        try:
            with self.db.engine.begin() as conn:
                hold_cursor(conn, session_id)
                conn.execute(events.insert().values(row))
                if proceed is not None:
                    write_audit(conn, session_id, who, "gate_proceed", proceed[0], "", proceed[1], at, event.time)
                write_audit(conn, session_id, who, "event", event.kind, "", event.text, at, event.time)
        except sa.exc.IntegrityError:
            return False
        self.db.notify()
        return True

    def amend_event(self, session_id: int, event_id: int, who: str, at: datetime, session_time: datetime,
                    reason: str, new_time: datetime | None) -> StoredEvent | None:
        """Strike an entered event, in force until now, and with `new_time` enter its correction (the reason as
        its text); audited with who, why and old → new, and counted on the session, in one transaction.

        Returns the correction (None for a withdrawal). ValueError if the event is not in force any more
        (struck by someone else a moment ago) or the same correction is already stored.
        """
        try:
            with self.db.engine.begin() as conn:
                hold_cursor(conn, session_id)
                row = conn.execute(sa.select(events).where(events.c.id == event_id,
                                                           events.c.session_id == session_id)).one()
                struck = conn.execute(events.update().where(events.c.id == event_id, IN_FORCE)
                                      .values(struck_us=to_us(at), struck_by=who, struck_reason=reason))
                if struck.rowcount != 1:
                    raise ValueError("it was corrected or withdrawn a moment ago")
                correction = None
                if new_time is not None:
                    new_row = {"session_id": session_id, "t_us": to_us(new_time), "kind": row.kind, "text": reason,
                               "source": row.source, "entered_by": who, "corrects": event_id}
                    new_id = inserted_id(conn.execute(events.insert().values(new_row)))
                    correction = StoredEvent(new_id, Event(new_time, row.kind, reason, row.source), who, event_id)
                conn.execute(sessions.update().where(sessions.c.id == session_id)
                             .values(amendments=sessions.c.amendments + 1))
                write_audit(conn, session_id, who, "event_corrected" if correction else "event_withdrawn", row.kind,
                            from_us(row.t_us).isoformat(), "withdrawn" if new_time is None else new_time.isoformat(),
                            at, session_time, reason)
        except sa.exc.IntegrityError:
            raise ValueError("the same correction is already recorded") from None
        self.db.notify()
        return correction

    def truncate_after(self, session_id: int, t: datetime) -> None:
        """Drop a replay session's data after `t` (a rewind) and bump its epoch so views rebuild."""
        t_us = to_us(t)
        with self.db.engine.begin() as conn:
            conn.execute(readings.delete().where(readings.c.session_id == session_id, readings.c.t_us > t_us))
            conn.execute(events.delete().where(events.c.session_id == session_id, events.c.t_us > t_us))
            conn.execute(alarms.delete().where(alarms.c.session_id == session_id, alarms.c.announced_us > t_us))
            conn.execute(
                sessions.update().where(sessions.c.id == session_id).values(epoch=sessions.c.epoch + 1)
            )
        self.db.notify()

    # -- reads after a cursor, in commit order --

    def readings_since(self, session_id: int, after_id: int, limit: int = 5000) -> list[StoredReading]:
        """Readings committed after cursor id `after_id`, oldest first (uses the (session, id) index)."""
        q = (
            sa.select(readings)
            .where(readings.c.session_id == session_id, readings.c.id > after_id)
            .order_by(readings.c.id)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [StoredReading(row.id, reading_from_row(row)) for row in conn.execute(q)]

    def events_since(self, session_id: int, after_id: int, limit: int = 1000) -> list[StoredEvent]:
        """Events in force committed after cursor id `after_id`, oldest first."""
        q = (
            sa.select(events)
            .where(events.c.session_id == session_id, events.c.id > after_id, IN_FORCE)
            .order_by(events.c.id)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [StoredEvent(row.id, _event(row)) for row in conn.execute(q)]

    def cursor(self, session_id: int) -> Cursor:
        """The cursor just past everything committed for the session now."""
        with self.db.read() as conn:
            r = conn.execute(
                sa.select(sa.func.max(readings.c.id)).where(readings.c.session_id == session_id)
            ).scalar()
            e = conn.execute(sa.select(sa.func.max(events.c.id)).where(events.c.session_id == session_id)).scalar()
            a = alarm_revision(conn, session_id)
        return Cursor(r or 0, e or 0, a)

    def cursors(self, session_ids: Iterable[int]) -> dict[int, Cursor]:
        """`cursor` of several sessions in one query however many: how a site's stream finds the beds with
        something new on each change in the store, without asking every bed. One correlated MAX per session and
        table, each answered from its (session_id, id) index; a MAX … GROUP BY would read every row of every
        session on each pass."""
        ids = list(session_ids)
        tops = [sa.select(sa.func.max(column)).where(column.table.c.session_id == sessions.c.id).scalar_subquery()
                for column in (readings.c.id, events.c.id, alarms.c.rev)]
        with self.db.read() as conn:
            rows = conn.execute(sa.select(sessions.c.id, *tops).where(sessions.c.id.in_(ids))).all()
        found = {row[0]: Cursor(*(top or 0 for top in row[1:])) for row in rows}
        return {sid: found.get(sid, Cursor(0, 0, 0)) for sid in ids}

    def extent(self, session_id: int) -> tuple[datetime, datetime] | None:
        """(first, last) time of the session's readings and events, None without any: indexed min/max queries."""
        times: list[int] = []
        with self.db.read() as conn:
            for table in (readings, events):
                row = conn.execute(sa.select(sa.func.min(table.c.t_us), sa.func.max(table.c.t_us))
                                   .where(table.c.session_id == session_id)).one()
                times += [t for t in row if t is not None]
        return (from_us(min(times)), from_us(max(times))) if times else None

    # -- reads by time --

    def readings(
        self,
        session_id: int,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        max_id: int | None = None,
    ) -> list[Reading]:
        """Readings with start <= time <= end, by time; `max_id` pins the read to a cursor."""
        q = sa.select(readings).where(readings.c.session_id == session_id)
        if start is not None:
            q = q.where(readings.c.t_us >= to_us(start))
        if end is not None:
            q = q.where(readings.c.t_us <= to_us(end))
        if max_id is not None:
            q = q.where(readings.c.id <= max_id)
        with self.db.read() as conn:
            return [reading_from_row(row) for row in conn.execute(q.order_by(readings.c.t_us, readings.c.id))]

    def readings_of(self, session_id: int, vitals: Iterable[str]) -> list[Reading]:
        """All readings of some vitals (e.g. the NIBP ones, a few hundred per session), by time."""
        q = (sa.select(readings).where(readings.c.session_id == session_id, readings.c.vital.in_(list(vitals)))
             .order_by(readings.c.t_us, readings.c.id))
        with self.db.read() as conn:
            return [reading_from_row(row) for row in conn.execute(q)]

    def latest(self, session_id: int, max_id: int | None = None) -> dict[str, Reading]:
        """The newest reading of each vital (what the numerics show on page load), up to a cursor id."""
        scope = [readings.c.session_id == session_id]
        if max_id is not None:
            scope.append(readings.c.id <= max_id)
        latest = (
            sa.select(readings.c.vital, sa.func.max(readings.c.t_us).label("t_us"))
            .where(*scope)
            .group_by(readings.c.vital)
            .subquery()
        )
        q = (
            sa.select(readings)
            .join(latest, sa.and_(readings.c.vital == latest.c.vital, readings.c.t_us == latest.c.t_us))
            .where(*scope)
            .order_by(readings.c.id)
        )
        with self.db.read() as conn:
            return {row.vital: reading_from_row(row) for row in conn.execute(q)}

    def events(self, session_id: int, max_id: int | None = None) -> list[Event]:
        """The session's events in force by time, optionally only those up to a cursor id."""
        q = sa.select(events).where(events.c.session_id == session_id, IN_FORCE)
        if max_id is not None:
            q = q.where(events.c.id <= max_id)
        with self.db.read() as conn:
            return [_event(row) for row in conn.execute(q.order_by(events.c.t_us, events.c.id))]

    def events_with_authors(self, session_id: int, *, entered_after: int | None = None,
                            struck: bool = False) -> list[StoredEvent]:
        """The session's events by time with who entered them, in force (and, if `struck`, those corrected or
        withdrawn); `entered_after` keeps only events entered on screen with an id above it (what the live
        alarm engine has not seen yet)."""
        q = sa.select(events).where(events.c.session_id == session_id)
        if not struck:
            q = q.where(IN_FORCE)
        if entered_after is not None:
            q = q.where(events.c.entered_by.is_not(None), events.c.id > entered_after)
        with self.db.read() as conn:
            return [_stored_event(row) for row in conn.execute(q.order_by(events.c.t_us, events.c.id))]

    def first_time(self, session_id: int) -> datetime | None:
        """When the session's record begins: its first reading or event (None while it has neither)."""
        with self.db.read() as conn:
            first = [conn.execute(sa.select(sa.func.min(table.c.t_us)).where(table.c.session_id == session_id))
                     .scalar() for table in (readings, events)]
        known = [t for t in first if t is not None]
        return from_us(min(known)) if known else None

    def counts(self, session_id: int) -> tuple[int, int]:
        """(number of readings, number of events) stored for the session."""
        with self.db.read() as conn:
            n_r = conn.execute(
                sa.select(sa.func.count()).select_from(readings).where(readings.c.session_id == session_id)
            ).scalar_one()
            n_e = conn.execute(
                sa.select(sa.func.count()).select_from(events).where(events.c.session_id == session_id)
            ).scalar_one()
        return int(n_r), int(n_e)
