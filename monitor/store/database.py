"""The database under the store: the engine, the schema kept current, one upsert, and the change signal.

SQLAlchemy Core over SQLite (WAL, synchronous=FULL) by default, or PostgreSQL through psycopg 3 for a site
whose computers share one database. Every concern of the store (`monitor.store.sessions`, `.samples`, …)
reads and writes through one `Database`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from monitor.store.changes import Changes
from monitor.store.migrate import NoDatabase, bring_up_to_date

# The two dialects Vigil supports, each with its own INSERT … ON CONFLICT.
_INSERTS: dict[str, Callable[[sa.Table], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")  # first: switching to WAL waits for another process's lock too
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


class BadDatabaseURL(ValueError):
    """`--db` (or a site's `db`) looks like a URL but is not one Vigil can use."""


def database_url(db: str | Path) -> str:
    """The SQLAlchemy URL of `db`: a plain path means an SQLite file; `postgresql://…` a PostgreSQL server
    (through psycopg 3). Anything else that starts like a URL is refused, never taken for a file name (a
    file whose name has a colon can be given as ./name)."""
    text = str(db)
    scheme = _SCHEME.match(text)
    if scheme is None:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    name, _, driver = scheme.group(1).lower().partition("+")
    rest = text[scheme.end():]
    if name not in _DRIVERS or not rest.startswith("//") or len(rest) == 2:
        raise BadDatabaseURL(f"{text!r} is not a database Vigil can use: give a file, or "
                             "postgresql://user@host/database")
    if driver:  # one the user chose (postgresql+psycopg, …)
        return f"{_DRIVERS[name].partition('+')[0]}+{driver}:{rest}"
    return f"{_DRIVERS[name]}:{rest}"


def inserted_id(result: sa.CursorResult) -> int:
    """The primary key an INSERT of one row made."""
    key = result.inserted_primary_key
    assert key is not None, "not an INSERT of one row"
    return int(key[0])


_CURSOR_LOCK = 1  # the advisory lock space of `hold_cursor` (a session's id is the other key)


def hold_cursor(conn: Connection, session_id: int) -> None:
    """Begin a transaction that adds rows readers find by cursor (a session's reading and event ids, its
    alarm revisions) so that, per session, such transactions take their ids and commit one at a time, in
    order: then what any reader sees is every row up to some id, never a later row without an earlier one,
    and "what is new since id N" skips nothing.

    PostgreSQL hands out ids from sequences as each transaction inserts and commits them in any order, so a
    transaction holds the session's advisory lock from here to its commit. SQLite has one writer at a time
    already; here the transaction takes the write lock at once (BEGIN IMMEDIATE), so that what it reads
    before writing (the latest alarm revision) cannot change under it. Must come first in the transaction.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CURSOR_LOCK, session_id)))


# A server out of reach is an error within seconds, not a hang: a connection is given up after 10 s, and one
# whose network went silent (no answer to what we send, or to keepalives after 5 s idle) after about 10 s too.
_SERVER_TIMEOUTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                    "keepalives_count": 3, "tcp_user_timeout": 10_000}


class Unreachable(ConnectionError):
    """The database server cannot be reached (or refuses us): the message is one line naming it."""


def _server(engine: Engine) -> str:
    url = engine.url
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


class Database:
    """One database, opened (created or brought up to this schema) once per process and shared by the store's
    concerns; the change signal wakes this process's readers on any process's commit."""

    def __init__(self, db: str | Path, *, create: bool = True) -> None:
        """`create` False: a command that only reads; a database that does not exist (or holds no Vigil
        tables) is `NoDatabase`, never made. A server that cannot be reached is `Unreachable`; a database a
        newer Vigil made is `DatabaseTooNew`."""
        url = database_url(db)
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not create and not path.is_file():
                raise NoDatabase(f"no database at {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a database error must not print a patient label (or anything else entered) to the log
        self.engine: Engine = sa.create_engine(
            url, hide_parameters=True, connect_args={} if url.startswith("sqlite") else _SERVER_TIMEOUTS)
        if self.engine.dialect.name == "sqlite":
            self.where = url.removeprefix("sqlite:///")
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.where = _server(self.engine)
        # Reads on PostgreSQL run outside a transaction: a read is one statement or several that each see what is
        # committed when it runs, as they would in a READ COMMITTED transaction, without its BEGIN and ROLLBACK
        # round trips (a live stream makes five reads on each wake; under load each round trip waits its turn
        # for the CPU). SQLite's driver begins no transaction for reads anyway.
        self._reads = (self.engine if self.engine.dialect.name == "sqlite"
                       else self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._reach()
        bring_up_to_date(self.engine, self.where, create=create)
        self.changes = Changes(self.engine)

    def read(self) -> Connection:
        """A connection for reads only (writes go through `engine.begin()`, one transaction each)."""
        return self._reads.connect()

    def close(self) -> None:
        self.changes.close()
        self.engine.dispose()

    def _reach(self) -> None:
        """Connect once, so that a server that is down or refuses us is one line naming it."""
        try:
            self.engine.connect().close()
        except sa.exc.OperationalError as exc:
            if self.engine.dialect.name == "sqlite":
                raise
            reason = str(exc.orig).strip().splitlines()[0].rpartition("failed: ")[2]
            raise Unreachable(f"cannot reach the database at {self.where}: {reason}") from None

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

    def insert_new(self, conn: Connection, table: sa.Table, row: dict) -> bool:
        """Insert one row unless a row with its primary key is stored: whether it was inserted."""
        stmt = _INSERTS[self.engine.dialect.name](table).on_conflict_do_nothing()
        return conn.execute(stmt, row).rowcount == 1

    # -- the change signal (monitor.store.changes): this process's commits and other processes' --

    def notify(self) -> None:
        """A write has committed: wake the readers waiting in this process and in the others."""
        self.changes.committed()

    def watch_changes(self) -> None:
        """Hear other processes' commits from now on (`Changes.watch`): a server calls this as it starts."""
        self.changes.watch()

    def wait_for_change(self, generation: int, timeout: float) -> int:
        """Block until a commit newer than `generation` is seen (in this process, or in another once
        `watch_changes` was called), or timeout."""
        return self.changes.wait(generation, timeout)

    @property
    def generation(self) -> int:
        return self.changes.generation
