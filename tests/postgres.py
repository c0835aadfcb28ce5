"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` package, one cluster per test process.

The cluster lives in a temporary folder, listens on a free loopback port (and a socket in that folder), runs
without fsync (a test's data need not outlive a crash), and is stopped and deleted when the process ends —
nothing is left running. A test process killed outright (a timeout, SIGKILL) cannot stop its cluster: the next
cluster started sweeps away every cluster whose owning process is gone. initdb and postgres refuse to run as
root, which CI is: then they run as the `postgres` account the package makes (else `nobody`). Under pytest-xdist
each worker starts its own cluster, so workers never share a database; each test gets a database of its own,
copied from a template that already holds the schema.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import free_port

OWNER = "vigil"  # the cluster's superuser, which the tests connect as (trust authentication, loopback only)
FOLDER_PREFIX = "vigil-pg-"
OWNER_FILE = "owner.pid"  # the test process the cluster belongs to


def _bindir() -> Path:
    """Where initdb and pg_ctl are: Debian keeps them per major version, off the PATH; the newest wins."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/test installs Debian's postgresql package)")
    return Path(initdb).parent


def _account() -> dict[str, Any]:
    """subprocess arguments that run a PostgreSQL program as an unprivileged account when we are root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root with neither a postgres nor a nobody account to run PostgreSQL as")


def _sweep_orphans(bindir: Path) -> None:
    """Stop and delete the clusters of test processes that no longer exist."""
    for owner_file in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*/{OWNER_FILE}"):
        try:
            os.kill(int(owner_file.read_text()), 0)
            continue  # its process is alive: its cluster is in use
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge (another user's process, or a half-written file)
        folder = owner_file.parent
        subprocess.run([bindir / "pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(folder / "data")],
                       capture_output=True, timeout=60, cwd=folder, **_account())
        shutil.rmtree(folder, ignore_errors=True)


class Cluster:
    """One running PostgreSQL server of our own; `url(name)` connects to a database on it."""

    def __init__(self, *, fsync: bool = False) -> None:
        """`fsync` True: durable commits, as a real server makes them (for benchmarks)."""
        self.bindir = _bindir()
        _sweep_orphans(self.bindir)
        self.folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
        (self.folder / OWNER_FILE).write_text(str(os.getpid()))
        self.account = _account()
        if self.account:
            os.chown(self.folder, self.account["user"], self.account["group"])
        self.data = self.folder / "data"
        self._names = itertools.count(1)
        self._run("initdb", "-D", self.data, "-U", OWNER, "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--no-instructions")
        self._options = "-c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=16MB"
        if not fsync:
            self._options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self.port = self._start()
        atexit.register(self.stop)
        self.admin = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        self.template: str | None = None

    def _run(self, program: str, *args: str | Path) -> None:
        subprocess.run([self.bindir / program, *map(str, args)], check=True, capture_output=True, timeout=120,
                       cwd=self.folder, **self.account)  # its own folder: the account may not enter ours

    def _start(self, attempts: int = 5) -> int:
        """Start on a free port; another process may take that port first, so try again on another."""
        for attempt in range(attempts):
            port = free_port()
            try:
                self._run_server(port)
                return port
            except subprocess.CalledProcessError:
                if attempt == attempts - 1:
                    raise RuntimeError(f"PostgreSQL did not start:\n{(self.folder / 'log').read_text()}") from None
        raise AssertionError("unreachable")

    def _run_server(self, port: int) -> None:
        self._run("pg_ctl", "start", "-w", "-D", self.data, "-l", self.folder / "log",
                  "-o", f"-p {port} -k {self.folder} {self._options}")

    def halt(self) -> None:
        """Stop the server, its files kept: the database is out of reach (as when its computer is off or the
        network is out) until `resume`. A fast stop writes out every commit first (commits are not synchronous)."""
        self.admin.dispose()
        self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", self.data)

    def resume(self) -> None:
        """Start the server again after `halt`, on the same port."""
        self._run_server(self.port)

    def url(self, database: str) -> str:
        return f"postgresql://{OWNER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str | None = None) -> str:
        """An empty database (or a copy of `template`) no other test uses; its name."""
        name = f"vigil_{os.getpid()}_{next(self._names)}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        return name

    def drop_database(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        """Stop the server at once and delete its files; nothing of it outlives the test process."""
        if not self.data.exists():
            return
        self.admin.dispose()
        subprocess.run([self.bindir / "pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data)],
                       capture_output=True, timeout=60, cwd=self.folder, **self.account)
        shutil.rmtree(self.folder, ignore_errors=True)
