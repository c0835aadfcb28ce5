"""Schema versions: every database is brought to this program's schema when it is opened, through Alembic.

The revisions are in `monitor/store/migrations/versions` (installed with the package). A database made by
release 0.1.0 (or before), the last without schema versions, has Vigil's tables but no `alembic_version`: it
is brought to that release's schema (the first revision's `adopt`), stamped with it, and upgraded from there.
Several processes may open one database at the same moment (`vigil acquire` and `vigil serve` started
together): one upgrades while holding the database's write lock (SQLite) or an advisory lock (PostgreSQL), in
one transaction, and the others find the work done. A database whose revision this program does not know was
made by a newer Vigil and is refused, untouched.
"""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

BASELINE = "0001"  # release 0.1.0's schema
_LOCK_KEY = 0x76696769  # any constant: the advisory lock PostgreSQL processes take to upgrade one at a time


class NoDatabase(FileNotFoundError):
    """A command that only reads was pointed at a database that does not exist (or holds no Vigil data)."""


class DatabaseTooNew(RuntimeError):
    """The database was made or upgraded by a newer Vigil than this one."""


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "monitor.store:migrations")
    config.attributes["connection"] = conn
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The schema revision this program writes."""
    revision = _script().get_current_head()
    assert revision is not None, "no migrations are installed"
    return revision


def revision_of(conn: Connection) -> str | None:
    """The database's schema revision; None before schema versions (or for an empty database)."""
    return MigrationContext.configure(conn).get_current_revision()


def _check_known(revision: str | None, where: str) -> None:
    if revision is not None and revision not in {s.revision for s in _script().walk_revisions()}:
        raise DatabaseTooNew(f"the database at {where} was made by a newer Vigil (schema {revision}; this Vigil "
                             f"knows up to {head()}): upgrade Vigil to use it")


def _lock(conn: Connection) -> None:
    """Begin the transaction that upgrades, holding what keeps every other process from doing the same."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, waited for (busy_timeout)
    else:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


def bring_up_to_date(engine: Engine, where: str, *, create: bool = True) -> None:
    """Create the schema in an empty database, or upgrade an older one in place; refuse a newer one.

    `create` False: a database without Vigil's tables is `NoDatabase`, and left empty. The usual case,
    a database already at this schema, costs one read and takes no lock.
    """
    with engine.connect() as conn:
        revision = revision_of(conn)
    _check_known(revision, where)
    if revision == head():
        return
    with engine.connect() as conn:
        _lock(conn)
        revision = revision_of(conn)  # another process may have upgraded while we waited for the lock
        _check_known(revision, where)
        if revision == head():
            return
        if revision is None:
            baseline = _script().get_revision(BASELINE).module
            if set(sa.inspect(conn).get_table_names()) & set(baseline.SCHEMA.tables):
                baseline.adopt(conn)
                command.stamp(_config(conn), BASELINE)
            elif not create:
                raise NoDatabase(f"no Vigil database at {where}")
        command.upgrade(_config(conn), "head")
        conn.commit()
