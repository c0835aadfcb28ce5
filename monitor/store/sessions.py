"""Sessions: one row per recording, replay or treatment, with its clock, set-up and end (each audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.store.audit import write_audit
from monitor.store.database import Database, inserted_id
from monitor.store.schema import alarms, readings, sessions
from monitor.timeutil import SessionClock, from_us, to_us


class SessionEnded(ValueError):
    """The session has ended: its record is closed to changes."""


@dataclass(frozen=True)
class SessionSummary:
    """One row of the session history: what a list of past sessions shows."""

    id: int
    name: str
    kind: str
    bed: str
    session_type: str
    patient_label: str
    created: datetime
    first: datetime | None  # first reading
    last: datetime | None  # last reading
    ended: datetime | None
    readings: int
    alarms: int


@dataclass(frozen=True)
class SessionInfo:
    id: int
    name: str
    kind: str
    bed: str
    origin: str
    relative_time: bool
    clock_pos: datetime | None
    clock_wall_us: int | None
    clock_speed: float | None
    span_start: datetime | None
    span_end: datetime | None
    epoch: int
    session_type: str = "other"
    patient_label: str = ""
    setup_by: str | None = None
    ended: datetime | None = None  # session time of "end session"
    ended_by: str | None = None
    ready_min: float | None = None
    amendments: int = 0  # corrections and withdrawals of entered events so far
    bed_id: str | None = None  # the bed whose continuous session this is (monitor.store.beds)

    def clock_now(self, wall: datetime) -> datetime | None:
        """Where the session clock stands at wall time `wall` (None before acquisition starts)."""
        if self.clock_pos is None or self.clock_wall_us is None:
            return None
        return SessionClock(self.clock_pos, from_us(self.clock_wall_us), self.clock_speed or 0.0).now(wall)


def _optional_time(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _info(row: Any) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        name=row.name,
        kind=row.kind,
        bed=row.bed,
        origin=row.origin,
        relative_time=bool(row.relative_time),
        clock_pos=_optional_time(row.clock_pos_us),
        clock_wall_us=row.clock_wall_us,
        clock_speed=row.clock_speed,
        span_start=_optional_time(row.span_start_us),
        span_end=_optional_time(row.span_end_us),
        epoch=row.epoch,
        session_type=row.session_type,
        patient_label=row.patient_label,
        setup_by=row.setup_by,
        ended=_optional_time(row.ended_us),
        ended_by=row.ended_by,
        ready_min=row.ready_min,
        amendments=row.amendments,
        bed_id=row.bed_id,
    )


def insert_session(conn: Connection, name: str, kind: str, who: str, now: datetime, **values: Any) -> int:
    """A new session row (`values`: its other columns), audited as started by `who`, in the caller's
    transaction."""
    result = conn.execute(sessions.insert().values(name=name, kind=kind, created_us=to_us(now), **values))
    session_id = inserted_id(result)
    write_audit(conn, session_id, who, "session_start", name, "", f"{kind} on {values.get('bed', 'bed-1')}", now,
                None)
    return session_id


def claim_open(conn: Connection, session_id: int) -> bool:
    """Take the session's row for writing if it is still open: a concurrent "end session" is decided
    against this transaction, once. False if it has ended."""
    claimed = conn.execute(sessions.update().values(id=sessions.c.id)
                           .where(sessions.c.id == session_id, sessions.c.ended_us.is_(None)))
    return claimed.rowcount == 1


class Sessions:
    """Creating, finding and describing sessions; their clock, set-up and end."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, name: str, kind: str, *, bed: str = "bed-1", origin: str = "", relative_time: bool = False,
        session_type: str = "other", patient_label: str = "", who: str = "vigil", recording: str | None = None,
    ) -> int:
        """A new session, audited as started by `who` (whoever ran the command). `recording`: an imported
        recording's fingerprint, unique in the store (sa.exc.IntegrityError if a session holds it already)."""
        with self.db.engine.begin() as conn:
            session_id = insert_session(conn, name, kind, who, datetime.now(UTC), bed=bed, origin=origin,
                                        relative_time=relative_time, session_type=session_type,
                                        patient_label=patient_label, recording=recording)
        self.db.notify()
        return session_id

    def for_recording(self, recording: str, name: str, *, origin: str, relative_time: bool, who: str
                      ) -> tuple[int, bool]:
        """The import session holding this recording fingerprint, made if there is none; True if made now.
        Two imports of one recording at once end up in one session: the unique index decides."""
        def existing() -> int | None:
            with self.db.read() as conn:
                return conn.execute(sa.select(sessions.c.id).where(sessions.c.recording == recording)).scalar()

        found = existing()
        if found is None:
            try:
                return self.create(name, "import", origin=origin, relative_time=relative_time, who=who,
                                   recording=recording), True
            except sa.exc.IntegrityError:  # made by a concurrent import a moment ago
                found = existing()
        assert found is not None
        return int(found), False

    def find(self, name: str) -> int | None:
        """The newest session of that name."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(sessions.c.id).where(sessions.c.name == name).order_by(sessions.c.id.desc())
            ).first()
        return None if row is None else int(row.id)

    def latest(self) -> int | None:
        """The newest session's id: what a dashboard beside `vigil acquire` shows by default."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(sa.func.max(sessions.c.id))).first()
        return None if row is None or row[0] is None else int(row[0])

    def listing(self, patient_label: str | None = None) -> list[SessionSummary]:
        """Every session, newest first (or only one patient label's), with its extent and alarm count."""
        span = (sa.select(readings.c.session_id, sa.func.min(readings.c.t_us).label("first_us"),
                          sa.func.max(readings.c.t_us).label("last_us"), sa.func.count().label("n"))
                .group_by(readings.c.session_id).subquery())
        n_alarms = (sa.select(alarms.c.session_id, sa.func.count().label("n"))
                    .group_by(alarms.c.session_id).subquery())
        q = (sa.select(sessions, span.c.first_us, span.c.last_us, span.c.n.label("n_readings"),
                       n_alarms.c.n.label("n_alarms"))
             .outerjoin(span, span.c.session_id == sessions.c.id)
             .outerjoin(n_alarms, n_alarms.c.session_id == sessions.c.id)
             .order_by(sessions.c.id.desc()))
        if patient_label is not None:
            q = q.where(sessions.c.patient_label == patient_label)
        with self.db.read() as conn:
            return [
                SessionSummary(
                    id=row.id, name=row.name, kind=row.kind, bed=row.bed, session_type=row.session_type,
                    patient_label=row.patient_label, created=from_us(row.created_us),
                    first=_optional_time(row.first_us), last=_optional_time(row.last_us),
                    ended=_optional_time(row.ended_us), readings=row.n_readings or 0, alarms=row.n_alarms or 0,
                )
                for row in conn.execute(q)
            ]

    def info(self, session_id: int) -> SessionInfo:
        """The session's row; KeyError if there is none."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            raise KeyError(f"no session {session_id}")
        return _info(row)

    def infos(self, session_ids: Iterable[int]) -> dict[int, SessionInfo]:
        """`info` of several sessions in one query (those that exist), by id: a site's beds on every change."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(sessions).where(sessions.c.id.in_(list(session_ids)))).all()
        return {row.id: _info(row) for row in rows}

    def set_span(self, session_id: int, start: datetime | None, end: datetime | None) -> None:
        self._update(
            session_id,
            span_start_us=None if start is None else to_us(start),
            span_end_us=None if end is None else to_us(end),
        )

    def set_clock(self, session_id: int, position: datetime, wall: datetime, speed: float) -> None:
        """Record the session clock so every dashboard shows the same "now" (speed 0 = paused). An ended
        session's record is closed: its clock is left as it was (a runner may publish a moment after the end)."""
        self._update(session_id, sessions.c.ended_us.is_(None), clock_pos_us=to_us(position),
                     clock_wall_us=to_us(wall), clock_speed=speed)

    def _update(self, session_id: int, *where: sa.ColumnElement[bool], **values: Any) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.id == session_id, *where).values(**values))
        self.db.notify()

    # -- the treatment session: set-up and end (each audited in the same transaction) --

    def set_up(self, session_id: int, who: str, at: datetime, session_time: datetime | None, *,
               session_type: str, patient_label: str, bed: str) -> list[str]:
        """Save the session's set-up; each changed field gets an audit entry (old → new). Returns them."""
        wanted = {"session_type": session_type, "patient_label": patient_label, "bed": bed}
        with self.db.engine.begin() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).one()
            changed = [key for key, value in wanted.items() if getattr(row, key) != value]
            if changed:
                conn.execute(sessions.update().where(sessions.c.id == session_id)
                             .values(setup_by=who, **{key: wanted[key] for key in changed}))
            for key in changed:
                write_audit(conn, session_id, who, "setup", key, getattr(row, key), wanted[key], at, session_time)
        if changed:
            self.db.notify()
        return changed

    def end(self, session_id: int, who: str, at: datetime, session_time: datetime, *,
            override: str | None = None, ready_min: float | None = None) -> None:
        """Mark the session ended at `session_time`; an override (ending despite the guard) is audited with
        its reason. Refuses a session already ended."""
        with self.db.engine.begin() as conn:
            ended = conn.execute(sessions.update().where(sessions.c.id == session_id, sessions.c.ended_us.is_(None))
                                 .values(ended_us=to_us(session_time), ended_by=who, ready_min=ready_min))
            if ended.rowcount != 1:  # one conditional update: two confirms at once end it once
                raise ValueError(f"session {session_id} has already ended")
            if override is not None:
                write_audit(conn, session_id, who, "discharge_override", "end session", "", override, at,
                            session_time)
            ready = "" if ready_min is None else f"; would have been ready at {ready_min:g} min"
            write_audit(conn, session_id, who, "session_end", "session", "open", f"ended{ready}", at, session_time)
        self.db.notify()
