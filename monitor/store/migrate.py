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
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:  # Alembic loads only to upgrade or refuse: a database at HEAD is checked without it (~0.15 s)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BASELINE = "0001"  # release 0.1.0's schema
HEAD = "0003"  # the newest revision in migrations/versions (tests/test_migrations.py checks it is Alembic's head)
_VERSION = sa.table("alembic_version", sa.column("version_num"))
_LOCK_KEY = 0x76696769  # any constant: the advisory lock PostgreSQL processes take to upgrade one at a time


class NoDatabase(FileNotFoundError):
    """A command that only reads was pointed at a database that does not exist (or holds no Vigil data)."""


class DatabaseTooNew(RuntimeError):
    """The database was made or upgraded by a newer Vigil than this one."""


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "monitor.store:migrations")
    config.attributes["connection"] = conn
    return config


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The schema revision this program writes, as Alembic finds it among the installed revisions."""
    revision = _script().get_current_head()
    assert revision is not None, "no migrations are installed"
    return revision


def revision_of(conn: Connection) -> str | None:
    """The database's schema revision; None before schema versions (or for an empty database)."""
    if not sa.inspect(conn).has_table(_VERSION.name):
        return None
    return conn.execute(sa.select(_VERSION.c.version_num)).scalar()


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
    a database already at this schema, costs two small reads, takes no lock and loads no Alembic.
    """
    with engine.connect() as conn:
        revision = revision_of(conn)
    if revision == HEAD:
        return
    _check_known(revision, where)
    from alembic import command

    with engine.connect() as conn:
        _lock(conn)
        revision = revision_of(conn)  # another process may have upgraded while we waited for the lock
        _check_known(revision, where)
        if revision == HEAD:
            return
        if revision is None:
            baseline = _script().get_revision(BASELINE).module
            if set(sa.inspect(conn).get_table_names()) & set(baseline.SCHEMA.tables):
                baseline.adopt(conn)
                command.stamp(_config(conn), BASELINE)
            elif not create:
                raise NoDatabase(f"no Vigil database at {where}")
        command.upgrade(_config(conn), HEAD)
        conn.commit()
