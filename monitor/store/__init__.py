"""The store: the durable record of every session and the bus between acquisition and dashboards.

SQLAlchemy Core over SQLite (WAL, synchronous=FULL) by default, or PostgreSQL (`database`); the schema is
kept current by Alembic (`migrate`).
One small class per concern, all over one `Database`: `store.beds` (each bed's one open session),
`store.sessions`, `store.samples` (readings and
events, read by time or after a cursor), `store.limits`, `store.alarms`, `store.audit`, `store.users` and
`store.holders` (which process acquires each bed).
Every write commits before it returns, with its audit entry in the same transaction, and then wakes the
readers of every process on the database that watches (`watch_changes`, `wait_for_change`, `changes`); only
what is committed is shown or alarmed on.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from monitor.store.alarms import Alarms, StoredAlarm
from monitor.store.audit import Audit, AuditEntry
from monitor.store.beds import Bed, Beds
from monitor.store.database import BadDatabaseURL, Database, Unreachable, database_url
from monitor.store.holders import Holder, Holders
from monitor.store.limits import Limits, LimitsVersion
from monitor.store.migrate import DatabaseTooNew, NoDatabase
from monitor.store.samples import Cursor, Samples, StoredEvent, StoredReading, Strike
from monitor.store.sessions import SessionEnded, SessionInfo, Sessions, SessionSummary
from monitor.store.users import Users

__all__ = [
    "AuditEntry", "BadDatabaseURL", "Bed", "Cursor", "DatabaseTooNew", "Holder", "LimitsVersion", "NoDatabase",
    "SessionEnded", "SessionInfo", "SessionSummary",
    "Store", "StoredAlarm", "StoredEvent", "StoredReading", "Strike", "Unreachable", "database_url",
]


class Store:
    """All reads and writes of Vigil's durable data go through here, one attribute per concern."""

    def __init__(self, db: str | Path, *, create: bool = True) -> None:
        """`create` False: a command that only reads; a database that does not exist is `NoDatabase`, never
        made (see `Database` for the other refusals)."""
        self.database = Database(db, create=create)
        self.beds = Beds(self.database)
        self.sessions = Sessions(self.database)
        self.samples = Samples(self.database)
        self.limits = Limits(self.database)
        self.alarms = Alarms(self.database)
        self.audit = Audit(self.database)
        self.users = Users(self.database)
        self.holders = Holders(self.database)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for tests and tools that look at the rows themselves."""
        return self.database.engine

    def close(self) -> None:
        self.database.close()

    def watch_changes(self) -> None:
        """Hear other processes' commits from now on: what a server does before its streams wait."""
        self.database.watch_changes()

    def wait_for_change(self, generation: int, timeout: float) -> int:
        """Block until a write newer than `generation` commits (in this process, or in any once
        `watch_changes` was called), or timeout."""
        return self.database.wait_for_change(generation, timeout)

    @property
    def generation(self) -> int:
        return self.database.generation
