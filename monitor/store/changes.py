"""The change signal: wakes a process's readers (the live streams) when a write commits, in this process or
in another one.

A write in this process calls `committed` after its commit. What other processes commit is seen by a watcher
thread (without one, only when readers look again). A server starts it (`watch`) as it adds a route that waits,
in the thread that builds the server: a command that only writes never starts one, and no stream's thread starts
a thread (see `watch`). The watcher:
- PostgreSQL: every writer sends NOTIFY on one channel after its commit, and the watcher LISTENs on its own
  connection, so any host's commit wakes every server at once;
- SQLite: the watcher asks the file's `PRAGMA data_version`, which changes when another connection commits,
  every `SQLITE_WATCH_S` — a read of the file's shared memory, not of the file (about 0.7 % of a core while
  idle): simpler than a wake-up channel between processes, and well inside the 100 ms a reading may take to
  reach the screen (benchmarks/push.py).
Readers still look again after their own timeout, so a lost signal only delays, never hides, a change.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

CHANNEL = "vigil_changes"
SQLITE_WATCH_S = 0.02
WATCH = True  # False: readers see other processes' commits only when they look again (benchmarks compare)
log = logging.getLogger(__name__)


class Changes:
    """A generation counter that goes up with each commit seen, and waits for it to move."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._changed = threading.Condition()
        self._generation = 0
        self._watcher: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def generation(self) -> int:
        return self._generation

    def _bump(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def committed(self) -> None:
        """A write in this process has committed: wake this process's readers, and tell the other hosts."""
        self._bump()
        if self.engine.dialect.name == "postgresql":
            try:
                with self.engine.connect() as conn:
                    conn.execute(sa.text(f"NOTIFY {CHANNEL}"))
                    conn.commit()
            except sa.exc.DBAPIError as exc:  # the write is stored: other servers find it when they look again
                log.warning("could not tell other servers of a change: %s", str(exc).splitlines()[0])

    def wait(self, generation: int, timeout: float) -> int:
        """Block until a commit newer than `generation` is seen, or `timeout`; returns the generation now."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation, timeout)
            return self._generation

    def close(self) -> None:
        self._closed.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)

    def watch(self) -> None:
        """Start hearing other processes' commits, until `close` (once; later calls do nothing).

        Called where a server is built, not by a stream's first wait: Dash's test server stops by raising
        SystemExit into its threads by thread id, and while a thread starts another, the new one's thread
        state carries its starter's id (CPython 3.11), so the exception can land in the new thread before it
        runs, and its starter then waits for it to start forever."""
        with self._changed:
            if self._watcher is not None or not WATCH:
                return
            watch = self._listen if self.engine.dialect.name == "postgresql" else self._poll_data_version
            watcher = threading.Thread(target=self._run, args=(watch,), name="vigil-changes", daemon=True)
            watcher.start()  # then kept: an exception in start() leaves none for `close` to join
            self._watcher = watcher

    @staticmethod
    def _run(watch: Callable[[], None]) -> None:
        """Dash's test server stops by raising SystemExit in every thread started while it served, this one too
        when the app was built inside it: it then ends quietly (readers go on looking again by themselves)."""
        try:
            watch()
        except SystemExit:
            return

    def _poll_data_version(self) -> None:
        conn = sqlite3.connect(str(self.engine.url.database), timeout=10)
        try:
            seen = conn.execute("PRAGMA data_version").fetchone()[0]
            while not self._closed.wait(SQLITE_WATCH_S):
                now = conn.execute("PRAGMA data_version").fetchone()[0]
                if now != seen:
                    seen = now
                    self._bump()
        finally:
            conn.close()

    def _listen(self) -> None:
        """LISTEN until closed; after a lost connection, listen again (and wake the readers: they may have
        missed a change meanwhile)."""
        import psycopg  # PostgreSQL only: an SQLite store's commands start without loading it (~0.1 s)

        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        again = False
        while not self._closed.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if again:
                        self._bump()
                    again = True
                    while not self._closed.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._bump()
            except psycopg.Error as exc:
                log.warning("not hearing other servers' changes (looking again every second): %s", exc)
                self._closed.wait(1.0)
