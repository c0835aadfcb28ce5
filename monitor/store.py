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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.reading import Event, Reading
from monitor.timeutil import from_us, to_us

metadata = sa.MetaData()

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # replay | import | live
    sa.Column("bed", sa.String(50), nullable=False, default="bed-1"),
    sa.Column("origin", sa.Text, nullable=False, default=""),  # file path or port URL
    sa.Column("relative_time", sa.Boolean, nullable=False, default=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    # Session clock: position = clock_pos_us + (wall - clock_wall_us) * clock_speed.
    sa.Column("clock_pos_us", sa.BigInteger),
    sa.Column("clock_wall_us", sa.BigInteger),
    sa.Column("clock_speed", sa.Float),
    sa.Column("span_start_us", sa.BigInteger),  # recording extent, for replay position bars
    sa.Column("span_end_us", sa.BigInteger),
    sa.Column("epoch", sa.Integer, nullable=False, default=0),  # bumped when a replay rewinds
    sqlite_autoincrement=True,
)

readings = sa.Table(
    "readings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("t_us", sa.BigInteger, nullable=False),
    sa.Column("vital", sa.String(8), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("device_us", sa.BigInteger),
    sa.Column("measured_us", sa.BigInteger),
    sa.Column("flags", sa.String(200), nullable=False, default=""),
    sa.UniqueConstraint("session_id", "source", "vital", "t_us", name="uq_reading"),
    sa.Index("ix_readings_session_time", "session_id", "t_us"),
    sa.Index("ix_readings_session_id", "session_id", "id"),
    sqlite_autoincrement=True,
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("t_us", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False, default=""),
    sa.Column("source", sa.String(100), nullable=False),
    sa.UniqueConstraint("session_id", "t_us", "kind", "text", "source", name="uq_event"),
    sa.Index("ix_events_session_id", "session_id", "id"),
    sqlite_autoincrement=True,
)

limits = sa.Table(
    "limits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("effective_us", sa.BigInteger, nullable=False),
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON of monitor.limits.Limits.to_dict()
    sa.UniqueConstraint("session_id", "version", name="uq_limits_version"),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class Cursor:
    """Position in a session's stream: the last reading id and last event id already delivered."""

    reading: int = 0
    event: int = 0

    def __str__(self) -> str:
        return f"{self.reading}-{self.event}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        """Parse `r-e`; anything malformed means "from the start", never an error."""
        try:
            r, e = (text or "").split("-")
            return cls(max(int(r), 0), max(int(e), 0))
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


class Store:
    """All reads and writes of Vigil's durable data go through here."""

    def __init__(self, db: str | Path) -> None:
        url = database_url(db)
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        self._changed = threading.Condition()
        self._generation = 0

    def close(self) -> None:
        self.engine.dispose()

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
        self, name: str, kind: str, *, bed: str = "bed-1", origin: str = "", relative_time: bool = False
    ) -> int:
        now = to_us(datetime.now(UTC))
        with self.engine.begin() as conn:
            result = conn.execute(
                sessions.insert().values(
                    name=name, kind=kind, bed=bed, origin=origin, relative_time=relative_time, created_us=now
                )
            )
            session_id = int(result.inserted_primary_key[0])
        self._notify()
        return session_id

    def find_session(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sessions.c.id).where(sessions.c.name == name).order_by(sessions.c.id.desc())
            ).first()
        return None if row is None else int(row.id)

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
            conn.execute(
                sessions.update().where(sessions.c.id == session_id).values(epoch=sessions.c.epoch + 1)
            )
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
        return Cursor(r or 0, e or 0)

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
        """Store a new limits version for the session; returns its version number."""
        with self.engine.begin() as conn:
            current = conn.execute(
                sa.select(sa.func.max(limits.c.version)).where(limits.c.session_id == session_id)
            ).scalar()
            version = (current or 0) + 1
            conn.execute(
                limits.insert().values(
                    session_id=session_id, version=version, effective_us=to_us(effective), who=who,
                    data=json.dumps(data, sort_keys=True),
                )
            )
        self._notify()
        return version

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
