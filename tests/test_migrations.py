"""Schema versions on both engines: the revisions make the schema the program declares, a database of release
0.1.0 upgrades in place with its data (several processes opening it at once), a newer one is refused."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import ENGINES, ROOT, TEST_DATA, new_database
from support import run_vigil

from monitor.store import DatabaseTooNew, NoDatabase, Store
from monitor.store.migrate import HEAD, head, revision_of
from monitor.store.schema import metadata

RELEASE_0_1_0 = TEST_DATA / "release_0_1_0"  # databases release 0.1.0 made (README.md there says how)


@pytest.fixture(params=ENGINES)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, on each engine."""
    with new_database(request, request.param, tmp_path, schema=False) as url:
        yield url


def load_release_0_1_0(db: str) -> None:
    """Fill an empty database with what release 0.1.0 made: its schema and a little of everything."""
    if "://" not in db:
        with sqlite3.connect(db) as raw:
            raw.executescript((RELEASE_0_1_0 / "sqlite.sql").read_text())
        return
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute((RELEASE_0_1_0 / "postgresql.sql").read_text().encode())


def revision(db: str) -> str | None:
    engine = sa.create_engine(db if "://" in db else f"sqlite:///{db}", poolclass=sa.NullPool)
    with engine.connect() as conn:
        return revision_of(conn)


def test_the_revisions_make_the_schema_the_program_declares(empty_db: str) -> None:
    assert head() == HEAD  # the revision the quick check compares with is the newest one installed
    store = Store(empty_db)
    try:
        with store.engine.connect() as conn:
            assert revision_of(conn) == head() == MigrationContext.configure(conn).get_current_revision()
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()


def test_opening_a_database_at_this_schema_loads_neither_alembic_nor_an_unused_driver(tmp_path: Path) -> None:
    """Every `vigil` command opens its store: one at this schema is checked without Alembic (and an SQLite one
    without psycopg): neither import serves a command that only reads and writes rows."""
    Store(tmp_path / "vigil.db").close()
    opened = subprocess.run([sys.executable, "-c", "import sys; from monitor.store import Store; "
                             f"Store({str(tmp_path / 'vigil.db')!r}).close(); "
                             "print(sorted({'alembic', 'psycopg'} & set(sys.modules)))"],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    assert opened.stdout == "[]\n", opened.stderr


def test_a_database_of_release_0_1_0_upgrades_in_place_with_its_data(empty_db: str) -> None:
    load_release_0_1_0(empty_db)
    assert revision(empty_db) is None
    store = Store(empty_db)
    try:
        assert revision(empty_db) == head()
        [session] = store.sessions.listing()
        assert (session.name, session.readings) == ("small.csv", 216)
        assert [e.kind for e in store.samples.events(session.id)] == ["dose_start", "dose_end"]
        assert store.users.find("ada").role == "admin"
        assert {a.action for a in store.audit.entries()} == {"session_start", "user_add"}
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit"))  # still enforced by the database, after the upgrade
        later = store.sessions.create("after the upgrade", "live")
        assert later == session.id + 1  # ids go on from where the release left them
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()


OPEN_ONCE = "import sys; from monitor.store import Store; Store(sys.argv[1]).close()"


def test_several_processes_opening_an_old_database_at_once_upgrade_it_once(empty_db: str) -> None:
    load_release_0_1_0(empty_db)
    opening = [subprocess.Popen([sys.executable, "-c", OPEN_ONCE, empty_db], cwd=ROOT, stderr=subprocess.PIPE,
                                text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
               for _ in range(4)]
    for process in opening:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    store = Store(empty_db)
    try:
        assert revision(empty_db) == head()
        assert [s.readings for s in store.sessions.listing()] == [216]
    finally:
        store.close()


def test_a_database_made_by_a_newer_vigil_is_refused_and_left_alone(db: str) -> None:
    Store(db).close()
    engine = sa.create_engine(db if "://" in db else f"sqlite:///{db}", poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9001'"))
    with pytest.raises(DatabaseTooNew, match=r"made by a newer Vigil \(schema 9001; this Vigil knows up to"):
        Store(db)
    result = run_vigil("user", "list", "--db", db)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"vigil user: error: the database at {_where(db)} was made by a newer Vigil "
        f"(schema 9001; this Vigil knows up to {head()}): upgrade Vigil to use it"]
    assert revision(db) == "9001"


def _where(db: str) -> str:
    """How the store names a database in what it says: the file, or the server and database."""
    if "://" not in db:
        return db
    url = sa.engine.make_url(db)
    return f"{url.host}:{url.port}/{url.database}"


def test_a_command_that_only_reads_leaves_an_empty_database_empty(empty_db: str) -> None:
    with pytest.raises(NoDatabase):
        Store(empty_db, create=False)
    if "://" in empty_db:
        engine = sa.create_engine(empty_db, poolclass=sa.NullPool)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    else:
        assert not Path(empty_db).exists()
