"""The store: the durable record of every session and the bus between acquisition and dashboards.

SQLAlchemy Core over SQLite (WAL, synchronous=FULL) by default; a PostgreSQL URL works too.
Acquisition writes readings and events here first, in one transaction per batch; only what is
committed is shown or alarmed on. Readers ask "what is new since cursor X", where the cursor is
the autoincrement id of the readings and events tables, so a reconnecting dashboard resumes
without gaps. Writes are idempotent (a unique key per reading and event), so re-importing or
re-replaying a file after a crash never duplicates anything.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.model.reading import Event, Reading
from monitor.alarms.engine import Episode
from monitor.store.schema import (
    add_missing_columns,
    alarms,
    audit,
    events,
    limits,
    metadata,
    protect_audit,
    readings,
    sessions,
)
from monitor.timeutil import SessionClock, from_us, to_us


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
class StoredEvent:
    id: int
    event: Event
    entered_by: str | None = None  # who entered it on screen; None when a monitor or a file sent it


@dataclass(frozen=True)
class StoredAlarm:
    """An alarm episode as stored: the engine's snapshot plus its acknowledgement."""

    id: int
    episode: Episode
    rev: int
    acked_at: datetime | None
    acked_by: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    session_time: datetime | None
    who: str
    action: str
    target: str
    old: str
    new: str
    session_id: int | None = None


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
class LimitsVersion:
    version: int
    effective: datetime
    who: str
    data: dict


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

    def clock_now(self, wall: datetime) -> datetime | None:
        """Where the session clock stands at wall time `wall` (None before acquisition starts)."""
        if self.clock_pos is None or self.clock_wall_us is None:
            return None
        return SessionClock(self.clock_pos, from_us(self.clock_wall_us), self.clock_speed or 0.0).now(wall)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def database_url(db: str | Path) -> str:
    """A plain path means an SQLite file; anything with `://` is a SQLAlchemy URL."""
    text = str(db)
    return text if "://" in text else f"sqlite:///{Path(text).expanduser().resolve()}"


class NoDatabase(FileNotFoundError):
    """A command that only reads was pointed at a database that does not exist."""


class SessionEnded(ValueError):
    """The session has ended: its record is closed to changes."""


class Store:
    """All reads and writes of Vigil's durable data go through here."""

    def __init__(self, db: str | Path, *, create: bool = True) -> None:
        """`create` False: a command that only reads; a database file that does not exist is
        `NoDatabase`, never made."""
        url = database_url(db)
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not create and not path.is_file():
                raise NoDatabase(f"no database at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a database error must not print a patient label (or anything else entered) to the log
        self.engine: Engine = sa.create_engine(url, hide_parameters=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._create_or_upgrade()
        self._changed = threading.Condition()
        self._generation = 0

    def close(self) -> None:
        self.engine.dispose()

    def _create_or_upgrade(self, attempts: int = 5) -> None:
        """Create the tables, or bring a database file from an older Vigil up to this schema. Another
        process doing the same at the same moment (`vigil acquire` and `vigil dashboard` started together
        on a new file) makes one of us retry against what it created."""
        for attempt in range(attempts):
            try:
                with self.engine.begin() as conn:
                    metadata.create_all(conn)
                    add_missing_columns(conn)
                    protect_audit(conn)
                return
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    # -- change notification (in-process fast path; other processes are polled) --

    def _notify(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait_for_change(self, generation: int, timeout: float) -> int:
        """Block until a write newer than `generation` commits in this process, or timeout."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation, timeout)
            return self._generation

    @property
    def generation(self) -> int:
        return self._generation

    # -- sessions --

    def create_session(
        self, name: str, kind: str, *, bed: str = "bed-1", origin: str = "", relative_time: bool = False,
        session_type: str = "other", patient_label: str = "", who: str = "vigil", recording: str | None = None,
    ) -> int:
        """A new session, audited as started by `who` (whoever ran the command). `recording`: an imported
        recording's fingerprint, unique in the store (sa.exc.IntegrityError if a session holds it already)."""
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            result = conn.execute(
                sessions.insert().values(
                    name=name, kind=kind, bed=bed, origin=origin, relative_time=relative_time, created_us=to_us(now),
                    session_type=session_type, patient_label=patient_label, recording=recording,
                )
            )
            session_id = int(result.inserted_primary_key[0])
            write_audit(conn, session_id, who, "session_start", name, "", f"{kind} on {bed}", now, None)
        self._notify()
        return session_id

    def session_for_recording(self, recording: str, name: str, *, origin: str, relative_time: bool, who: str
                              ) -> tuple[int, bool]:
        """The import session holding this recording fingerprint, made if there is none; True if made now.
        Two imports of one recording at once end up in one session: the unique index decides."""
        def existing() -> int | None:
            with self.engine.connect() as conn:
                return conn.execute(sa.select(sessions.c.id).where(sessions.c.recording == recording)).scalar()

        found = existing()
        if found is None:
            try:
                return self.create_session(name, "import", origin=origin, relative_time=relative_time, who=who,
                                           recording=recording), True
            except sa.exc.IntegrityError:  # made by a concurrent import a moment ago
                found = existing()
        assert found is not None
        return int(found), False

    def find_session(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions.c.id).where(sessions.c.name == name).order_by(sessions.c.id.desc())
            ).first()
        return None if row is None else int(row.id)

    def latest_session(self) -> int | None:
        """The newest session's id: what a dashboard beside `vigil acquire` shows by default."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sa.func.max(sessions.c.id))).first()
        return None if row is None or row[0] is None else int(row[0])

    def list_sessions(self, patient_label: str | None = None) -> list[SessionSummary]:
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
        with self.engine.connect() as conn:
            return [
                SessionSummary(
                    id=row.id, name=row.name, kind=row.kind, bed=row.bed, session_type=row.session_type,
                    patient_label=row.patient_label, created=from_us(row.created_us),
                    first=None if row.first_us is None else from_us(row.first_us),
                    last=None if row.last_us is None else from_us(row.last_us),
                    ended=None if row.ended_us is None else from_us(row.ended_us),
                    readings=row.n_readings or 0, alarms=row.n_alarms or 0,
                )
                for row in conn.execute(q)
            ]

    def session(self, session_id: int) -> SessionInfo:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
        if row is None:
            raise KeyError(f"no session {session_id}")
        return SessionInfo(
            id=row.id,
            name=row.name,
            kind=row.kind,
            bed=row.bed,
            origin=row.origin,
            relative_time=bool(row.relative_time),
            clock_pos=None if row.clock_pos_us is None else from_us(row.clock_pos_us),
            clock_wall_us=row.clock_wall_us,
            clock_speed=row.clock_speed,
            span_start=None if row.span_start_us is None else from_us(row.span_start_us),
            span_end=None if row.span_end_us is None else from_us(row.span_end_us),
            epoch=row.epoch,
            session_type=row.session_type,
            patient_label=row.patient_label,
            setup_by=row.setup_by,
            ended=None if row.ended_us is None else from_us(row.ended_us),
            ended_by=row.ended_by,
            ready_min=row.ready_min,
        )

    def set_span(self, session_id: int, start: datetime | None, end: datetime | None) -> None:
        self._update_session(
            session_id,
            span_start_us=None if start is None else to_us(start),
            span_end_us=None if end is None else to_us(end),
        )

    def set_clock(self, session_id: int, position: datetime, wall: datetime, speed: float) -> None:
        """Record the session clock so every dashboard shows the same "now" (speed 0 = paused)."""
        self._update_session(
            session_id, clock_pos_us=to_us(position), clock_wall_us=to_us(wall), clock_speed=speed
        )

    def _update_session(self, session_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.update().where(sessions.c.id == session_id).values(**values))
        self._notify()

    # -- writes --

    def _upsert(self, table: sa.Table, keys: list[str], rows: list[dict], update: list[str]) -> sa.Executable:
        dialect = self.engine.dialect.name
        module = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect)
        if module is None:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise RuntimeError(f"unsupported database dialect {dialect}")
        stmt = module.insert(table).values(rows)
        return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update})

    def _insert_ignoring_duplicates(self, conn: Connection, table: sa.Table, rows: list[dict]) -> None:
        if not rows:
            return
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            stmt = sqlite.insert(table).on_conflict_do_nothing()
        elif dialect == "postgresql":
            stmt = postgresql.insert(table).on_conflict_do_nothing()
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise RuntimeError(f"unsupported database dialect {dialect}")
        conn.execute(stmt, rows)

    def write(
        self, session_id: int, new_readings: Iterable[Reading] = (), new_events: Iterable[Event] = ()
    ) -> None:
        """Commit readings and events in one transaction; duplicates of stored ones are ignored.

        Returns only after the commit: a reading counts as recorded from then on.
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
            return
        with self.engine.begin() as conn:
            self._insert_ignoring_duplicates(conn, readings, reading_rows)
            self._insert_ignoring_duplicates(conn, events, event_rows)
        self._notify()

    def truncate_after(self, session_id: int, t: datetime) -> None:
        """Drop a replay session's data after `t` (a rewind) and bump its epoch so views rebuild."""
        t_us = to_us(t)
        with self.engine.begin() as conn:
            conn.execute(readings.delete().where(readings.c.session_id == session_id, readings.c.t_us > t_us))
            conn.execute(events.delete().where(events.c.session_id == session_id, events.c.t_us > t_us))
            conn.execute(alarms.delete().where(alarms.c.session_id == session_id, alarms.c.announced_us > t_us))
            conn.execute(
                sessions.update().where(sessions.c.id == session_id).values(epoch=sessions.c.epoch + 1)
            )
        self._notify()

    # -- the treatment session: set-up, entered events, end (each audited in the same transaction) --

    def set_up_session(self, session_id: int, who: str, at: datetime, session_time: datetime | None, *,
                       session_type: str, patient_label: str, bed: str) -> list[str]:
        """Save the session's set-up; each changed field gets an audit entry (old → new). Returns them."""
        wanted = {"session_type": session_type, "patient_label": patient_label, "bed": bed}
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).one()
            changed = [key for key, value in wanted.items() if getattr(row, key) != value]
            if changed:
                conn.execute(sessions.update().where(sessions.c.id == session_id)
                             .values(setup_by=who, **{key: wanted[key] for key in changed}))
            for key in changed:
                write_audit(conn, session_id, who, "setup", key, getattr(row, key), wanted[key], at,
                                  session_time)
        if changed:
            self._notify()
        return changed

    def enter_event(self, session_id: int, event: Event, who: str, at: datetime,
                    proceed: tuple[str, str] | None = None) -> bool:
        """A dose event or note entered on screen: stored with who entered it, and audited, in one transaction.

        `proceed` (what the BP gate found, the reason given) is audited with it. Returns False, and records
        nothing, if the same event is already stored or the dose event was already entered (a double click,
        or two screens at once: the `uq_entered_dose` index decides).
        """
        row = {"session_id": session_id, "t_us": to_us(event.time), "kind": event.kind, "text": event.text,
               "source": event.source, "entered_by": who}
        try:
            with self.engine.begin() as conn:
                conn.execute(events.insert().values(row))
                if proceed is not None:
                    write_audit(conn, session_id, who, "gate_proceed", proceed[0], "", proceed[1], at,
                                      event.time)
                write_audit(conn, session_id, who, "event", event.kind, "", event.text, at, event.time)
        except sa.exc.IntegrityError:
            return False
        self._notify()
        return True

    def end_session(self, session_id: int, who: str, at: datetime, session_time: datetime, *,
                    override: str | None = None, ready_min: float | None = None) -> None:
        """Mark the session ended at `session_time`; an override (ending despite the guard) is audited with
        its reason. Refuses a session already ended."""
        with self.engine.begin() as conn:
            ended = conn.execute(sessions.update().where(sessions.c.id == session_id, sessions.c.ended_us.is_(None))
                                 .values(ended_us=to_us(session_time), ended_by=who, ready_min=ready_min))
            if ended.rowcount != 1:  # one conditional update: two confirms at once end it once
                raise ValueError(f"session {session_id} has already ended")
            if override is not None:
                write_audit(conn, session_id, who, "discharge_override", "end session", "", override, at,
                                  session_time)
            ready = "" if ready_min is None else f"; would have been ready at {ready_min:g} min"
            write_audit(conn, session_id, who, "session_end", "session", "open", f"ended{ready}", at,
                              session_time)
        self._notify()

    # -- reads --

    @staticmethod
    def _reading(row: Any) -> Reading:
        return Reading(
            time=from_us(row.t_us),
            vital=row.vital,
            value=row.value,
            source=row.source,
            device_time=None if row.device_us is None else from_us(row.device_us),
            measured_at=None if row.measured_us is None else from_us(row.measured_us),
            flags=frozenset(f for f in row.flags.split(",") if f),
        )

    @staticmethod
    def _event(row: Any) -> Event:
        return Event(time=from_us(row.t_us), kind=row.kind, text=row.text, source=row.source)

    def stored_events(self, session_id: int, *, entered_after: int | None = None) -> list[StoredEvent]:
        """The session's events by time with who entered them; `entered_after` keeps only events entered
        on screen with an id above it (what the live alarm engine has not seen yet)."""
        q = sa.select(events).where(events.c.session_id == session_id)
        if entered_after is not None:
            q = q.where(events.c.entered_by.is_not(None), events.c.id > entered_after)
        with self.engine.connect() as conn:
            return [StoredEvent(row.id, self._event(row), row.entered_by)
                    for row in conn.execute(q.order_by(events.c.t_us, events.c.id))]

    def readings_since(self, session_id: int, after_id: int, limit: int = 5000) -> list[StoredReading]:
        """Readings committed after cursor id `after_id`, oldest first (uses the (session, id) index)."""
        q = (
            sa.select(readings)
            .where(readings.c.session_id == session_id, readings.c.id > after_id)
            .order_by(readings.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [StoredReading(row.id, self._reading(row)) for row in conn.execute(q)]

    def events_since(self, session_id: int, after_id: int, limit: int = 1000) -> list[StoredEvent]:
        q = (
            sa.select(events)
            .where(events.c.session_id == session_id, events.c.id > after_id)
            .order_by(events.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [StoredEvent(row.id, self._event(row)) for row in conn.execute(q)]

    def cursor(self, session_id: int) -> Cursor:
        """The cursor just past everything committed for the session now."""
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(sa.func.max(readings.c.id)).where(readings.c.session_id == session_id)
            ).scalar()
            e = conn.execute(sa.select(sa.func.max(events.c.id)).where(events.c.session_id == session_id)).scalar()
            a = self._alarm_rev(conn, session_id)
        return Cursor(r or 0, e or 0, a)

    def readings_between(
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
        with self.engine.connect() as conn:
            return [self._reading(row) for row in conn.execute(q.order_by(readings.c.t_us, readings.c.id))]

    def vital_readings(self, session_id: int, vitals: Iterable[str]) -> list[Reading]:
        """All readings of some vitals (e.g. the NIBP ones, a few hundred per session), by time."""
        q = (sa.select(readings).where(readings.c.session_id == session_id, readings.c.vital.in_(list(vitals)))
             .order_by(readings.c.t_us, readings.c.id))
        with self.engine.connect() as conn:
            return [self._reading(row) for row in conn.execute(q)]

    def events_upto(self, session_id: int, max_id: int | None = None) -> list[Event]:
        """The session's events by time, optionally only those up to a cursor id."""
        q = sa.select(events).where(events.c.session_id == session_id)
        if max_id is not None:
            q = q.where(events.c.id <= max_id)
        with self.engine.connect() as conn:
            return [self._event(row) for row in conn.execute(q.order_by(events.c.t_us, events.c.id))]

    def latest_readings(self, session_id: int, max_id: int | None = None) -> dict[str, Reading]:
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
        with self.engine.connect() as conn:
            return {row.vital: self._reading(row) for row in conn.execute(q)}

    def counts(self, session_id: int) -> tuple[int, int]:
        """(number of readings, number of events) stored for the session."""
        with self.engine.connect() as conn:
            n_r = conn.execute(
                sa.select(sa.func.count()).select_from(readings).where(readings.c.session_id == session_id)
            ).scalar_one()
            n_e = conn.execute(
                sa.select(sa.func.count()).select_from(events).where(events.c.session_id == session_id)
            ).scalar_one()
        return int(n_r), int(n_e)

    # -- limits (versioned per session) --

    def save_limits(self, session_id: int, data: dict, effective: datetime, who: str) -> int:
        """Store a new limits version, with one audit entry per changed value; returns its version.

        The first version of a session is audited as a whole ("set"), later ones as old → new per key.
        An ended session's record is closed: `SessionEnded` is raised, the refusal audited, nothing else changed.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            # Taking the session's row for writing decides against a concurrent "end session", once.
            still_open = conn.execute(sessions.update().values(id=sessions.c.id)
                                      .where(sessions.c.id == session_id, sessions.c.ended_us.is_(None))).rowcount
            if not still_open:
                write_audit(conn, session_id, who, "limits_refused", "limits", "", "the session has ended", now,
                            effective)
            else:
                version = self._add_limits_version(conn, session_id, data, effective, who, now)
        if not still_open:
            raise SessionEnded(f"session {session_id} has ended: its limits can no longer change")
        self._notify()
        return version

    @staticmethod
    def _add_limits_version(conn: Connection, session_id: int, data: dict, effective: datetime, who: str,
                            now: datetime) -> int:
        previous = conn.execute(
            sa.select(limits.c.version, limits.c.data)
            .where(limits.c.session_id == session_id)
            .order_by(limits.c.version.desc())
            .limit(1)
        ).first()
        version = 1 if previous is None else previous.version + 1
        conn.execute(
            limits.insert().values(
                session_id=session_id, version=version, effective_us=to_us(effective), who=who,
                data=json.dumps(data, sort_keys=True),
            )
        )
        new = flatten(data)
        if previous is None:
            changes = [("limits", "", ", ".join(f"{k}={v}" for k, v in sorted(new.items())))]
        else:
            old = flatten(json.loads(previous.data))
            changes = [(key, old.get(key, ""), new.get(key, "")) for key in sorted(old.keys() | new.keys())
                       if old.get(key) != new.get(key)]
        for key, before, after in changes:
            write_audit(conn, session_id, who, "limits", key, before, after, now, effective)
        return version

    def limits_versions(self, session_id: int) -> list[LimitsVersion]:
        q = sa.select(limits).where(limits.c.session_id == session_id).order_by(limits.c.version)
        with self.engine.connect() as conn:
            return [LimitsVersion(row.version, from_us(row.effective_us), row.who, json.loads(row.data))
                    for row in conn.execute(q)]

    def limits_version(self, session_id: int) -> int:
        """The newest limits version number (0 if none): cheap enough to poll."""
        with self.engine.connect() as conn:
            version = conn.execute(
                sa.select(sa.func.max(limits.c.version)).where(limits.c.session_id == session_id)
            ).scalar()
        return version or 0

    # -- alarms --

    @staticmethod
    def _alarm_rev(conn: Connection, session_id: int) -> int:
        rev = conn.execute(sa.select(sa.func.max(alarms.c.rev)).where(alarms.c.session_id == session_id)).scalar()
        return rev or 0

    def save_alarms(self, session_id: int, episodes: Iterable[Episode]) -> None:
        """Insert or update episodes by their key; each change gets the next revision of the session."""
        latest = {e.key: e for e in episodes}
        if not latest:
            return
        with self.engine.begin() as conn:
            first_rev = self._alarm_rev(conn, session_id) + 1
            rows = []
            for rev, e in enumerate(latest.values(), start=first_rev):
                rows.append({
                    "session_id": session_id, "vital": e.vital, "kind": e.kind, "direction": e.direction,
                    "source": e.source, "onset_us": to_us(e.onset), "announced_us": to_us(e.announced),
                    "end_us": None if e.end is None else to_us(e.end), "priority": e.priority, "peak": e.peak,
                    "limit_value": e.limit, "value": e.value, "rev": rev,
                })
            keys = ["session_id", "vital", "kind", "direction", "source", "onset_us"]
            update = ["announced_us", "end_us", "priority", "peak", "limit_value", "value", "rev"]
            conn.execute(self._upsert(alarms, keys, rows, update))
        self._notify()

    def drop_alarms_except(self, session_id: int, keys: set[tuple]) -> None:
        """Delete the session's alarms whose episode key is not in `keys` (after a re-derivation)."""
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(alarms).where(alarms.c.session_id == session_id)).all()
            stale = [row.id for row in rows if self._alarm(row).episode.key not in keys]
            if stale:
                conn.execute(alarms.delete().where(alarms.c.id.in_(stale)))
        if stale:
            self._notify()

    @staticmethod
    def _alarm(row: Any) -> StoredAlarm:
        episode = Episode(
            vital=row.vital, direction=row.direction, kind=row.kind, priority=row.priority,
            onset=from_us(row.onset_us), announced=from_us(row.announced_us),
            end=None if row.end_us is None else from_us(row.end_us), peak=row.peak, limit=row.limit_value,
            value=row.value, source=row.source,
        )
        acked = None if row.acked_us is None else from_us(row.acked_us)
        return StoredAlarm(row.id, episode, row.rev, acked, row.acked_by)

    def alarms_since(self, session_id: int, after_rev: int = 0) -> list[StoredAlarm]:
        """Alarms created or changed after revision `after_rev`, in revision order."""
        q = (
            sa.select(alarms)
            .where(alarms.c.session_id == session_id, alarms.c.rev > after_rev)
            .order_by(alarms.c.rev)
        )
        with self.engine.connect() as conn:
            return [self._alarm(row) for row in conn.execute(q)]

    def acknowledge(self, session_id: int, who: str, at: datetime, session_time: datetime | None) -> list[int]:
        """Acknowledge every unacknowledged alarm that is active or latched; returns their ids.

        One press acknowledges all, as on a bedside monitor; each gets its own audit entry.
        """
        with self.engine.begin() as conn:
            pending = conn.execute(
                sa.select(alarms).where(
                    alarms.c.session_id == session_id,
                    alarms.c.acked_us.is_(None),
                    sa.or_(alarms.c.end_us.is_(None), alarms.c.priority == "high"),
                ).order_by(alarms.c.id)
            ).all()
            first_rev = self._alarm_rev(conn, session_id) + 1
            for rev, row in enumerate(pending, start=first_rev):
                conn.execute(
                    alarms.update().where(alarms.c.id == row.id).values(acked_us=to_us(at), acked_by=who, rev=rev)
                )
                episode = self._alarm(row).episode
                what = f"{episode.vital} {episode.kind} {episode.direction} ({episode.priority})"
                write_audit(conn, session_id, who, "acknowledge", what, "unacknowledged",
                                  "acknowledged", at, session_time)
        if pending:
            self._notify()
        return [row.id for row in pending]

    # -- audit (append-only) --

    def audit_log(self, session_id: int) -> list[AuditEntry]:
        return self.audit_entries(session_id=session_id)

    def audit_entries(self, *, session_id: int | None = None, who: str | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first: one session's, one user's, or all (sign-ins have no session)."""
        q = sa.select(audit).order_by(audit.c.id)
        if session_id is not None:
            q = q.where(audit.c.session_id == session_id)
        if who is not None:
            q = q.where(audit.c.who == who)
        with self.engine.connect() as conn:
            return [
                AuditEntry(row.id, from_us(row.at_us), None if row.session_us is None else from_us(row.session_us),
                           row.who, row.action, row.target, row.old, row.new, row.session_id)
                for row in conn.execute(q)
            ]

    def audit(self, who: str, action: str, target: str = "", old: Any = "", new: Any = "", *,
              session_id: int | None = None, at: datetime | None = None) -> None:
        """Append one audit entry on its own (a sign-in, a refused request, a user added)."""
        with self.engine.begin() as conn:
            write_audit(conn, session_id, who, action, target, old, new, at or datetime.now(UTC), None)

    def current_limits(self, session_id: int) -> dict | None:
        q = (
            sa.select(limits.c.data)
            .where(limits.c.session_id == session_id)
            .order_by(limits.c.version.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            data = conn.execute(q).scalar()
        return None if data is None else json.loads(data)


def write_audit(conn: Connection, session_id: int | None, who: str, action: str, target: str, old: Any, new: Any,
                at: datetime, session_time: datetime | None) -> None:
    """Append an audit entry inside the caller's transaction, so the change and its record commit together."""
    conn.execute(audit.insert().values(
        session_id=session_id, at_us=to_us(at), session_us=None if session_time is None else to_us(session_time),
        who=who, action=action, target=target, old=str(old), new=str(new),
    ))


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"vitals": {"sbp": {"high": 180.0}}} → {"vitals.sbp.high": "180"}: what an audit entry names and
    shows (numbers as the limits editor shows them, 94 not 94.0)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = f"{value:g}" if isinstance(value, float) else value
    return flat
