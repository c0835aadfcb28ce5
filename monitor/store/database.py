"""The database under the store: the engine, the schema kept current, one upsert, and the change signal.

SQLAlchemy Core over SQLite (WAL, synchronous=FULL) by default; a PostgreSQL URL works too. Every concern of
the store (`monitor.store.sessions`, `.samples`, …) reads and writes through one `Database`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from monitor.store.schema import add_missing_columns, metadata, protect_audit

# The two dialects Vigil supports, each with its own INSERT … ON CONFLICT.
_INSERTS: dict[str, Callable[[sa.Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}


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


def inserted_id(result: sa.CursorResult) -> int:
    """The primary key an INSERT of one row made."""
    key = result.inserted_primary_key
    assert key is not None, "not an INSERT of one row"
    return int(key[0])


class NoDatabase(FileNotFoundError):
    """A command that only reads was pointed at a database that does not exist."""


class Database:
    """One database, opened (created or brought up to this schema) once per process and shared by the store's
    concerns; the change signal wakes this process's readers (other processes poll)."""

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

    def upsert(self, conn: Connection, table: sa.Table, rows: list[dict], *, keys: list[str] | None = None,
               update: Iterable[str] | Mapping[str, Any] = ()) -> None:
        """Insert `rows`; a row that conflicts with a stored one on `keys` (any unique key if None) is ignored,
        or, given `update`, updates the stored row: named columns take the new row's value, a mapping sets
        expressions. The one place that knows each dialect spells this differently."""
        if not rows:
            return
        insert = _INSERTS.get(self.engine.dialect.name)
        if insert is None:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise RuntimeError(f"unsupported database dialect {self.engine.dialect.name}")
        stmt = insert(table)
        if update:
            values = update if isinstance(update, Mapping) else {c: stmt.excluded[c] for c in update}
            conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=values), rows)
        else:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=keys), rows)

    # -- change notification (in-process fast path; other processes are polled) --

    def notify(self) -> None:
        """Tell this process's waiting readers that a write has committed."""
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
