"""A chair's local spool: where live acquisition keeps what the database could not take, until it can.

While the database is unreachable (server stopped, network out), each decoded batch — its readings and
events — and each change of the alarm engine's episodes is appended here, in one SQLite transaction
(synchronous=FULL: on the disk when `add` returns), before the alarm engine sees the batch: "committed
before shown or alarmed" holds with the spool as the place of commit. When the database is back, the runner
delivers the entries oldest first and removes each only after the database has committed it. A crash
between the two delivers that entry again, which the store ignores or overwrites (readings and events are
unique by their key, episodes are updated by theirs): delivered in order and exactly once.

The spool belongs to one bed, not to a session: a process that starts while the database is down does not
know the bed's session yet, and one that learnt it may find it ended on screen meanwhile. Entries go to the
bed's open session at delivery, as a batch written live would. The spool also keeps what the alarm engine
last knew (the limits in force, the session's type), so a process restarted during an outage alarms by
them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from platformdirs import user_state_dir

from adapters.model.reading import Event, Reading
from monitor.alarms.engine import Episode
from monitor.store import Unreachable
from monitor.timeutil import from_us, to_us

# The events that mark an outage on the bed's timeline (stored with the spool, so shown once it is back).
DB_LOST = "db_lost"
DB_REACHED = "db_reached"
OUTAGE_SOURCE = "vigil"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS known (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def default_spool(bed_id: str) -> Path:
    """Where a bed's spool is kept unless `--spool` says: the user's state folder ($XDG_STATE_HOME/vigil,
    else ~/.local/state/vigil), one file per bed."""
    return Path(user_state_dir("vigil", appauthor=False)) / f"spool-{bed_id}.sqlite"


def unreachable(exc: BaseException, dialect: str) -> bool:
    """Whether a failed write means the database is out of reach (kept in the spool and retried), rather
    than a fault in the data or the program (raised). A server's lost or refused connection is an
    OperationalError or InterfaceError; an SQLite file is on this computer, so its errors are never this."""
    if isinstance(exc, Unreachable):
        return True
    return dialect != "sqlite" and isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)


@dataclass
class Entry:
    """One spooled batch (readings and events) or one change of alarm episodes, with its place in the spool."""

    seq: int
    readings: list[Reading] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)


def _time(t: datetime | None) -> int | None:
    return None if t is None else to_us(t)


def _reading(r: Reading) -> list[Any]:
    return [to_us(r.time), r.vital, r.value, r.source, _time(r.device_time), _time(r.measured_at), sorted(r.flags)]


def _reading_from(row: list[Any]) -> Reading:
    t, vital, value, source, device, measured, flags = row
    return Reading(from_us(t), vital, value, source, None if device is None else from_us(device),
                   None if measured is None else from_us(measured), frozenset(flags))


_EPISODE_TIMES = ("onset", "announced", "end", "reached")


def _episode(e: Episode) -> dict[str, Any]:
    return asdict(e) | {name: _time(getattr(e, name)) for name in _EPISODE_TIMES}


def _episode_from(data: dict[str, Any]) -> Episode:
    return Episode(**data | {name: None if data[name] is None else from_us(data[name]) for name in _EPISODE_TIMES})


class Spool:
    """A bed's spool file, opened (made if missing) for one process; safe to call from its threads."""

    def __init__(self, path: Path, bed_id: str) -> None:
        """ValueError if the file is the spool of another bed: its entries must never land in this one's."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # an entry is on the disk before `add` returns
        self._conn.executescript(_SCHEMA)
        owner = self.recall("bed")
        if owner is None:
            self.remember("bed", bed_id)
        elif owner != bed_id:
            self._conn.close()
            raise ValueError(f"{path} is the spool of bed {owner}, not of {bed_id}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _append(self, kind: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO entries (kind, body) VALUES (?, ?)", (kind, json.dumps(body)))

    def add(self, readings: Iterable[Reading], events: Iterable[Event]) -> None:
        """Keep a batch: on the disk when this returns."""
        self._append("samples", {"readings": [_reading(r) for r in readings],
                                 "events": [[to_us(e.time), e.kind, e.text, e.source] for e in events]})

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        """Keep a change of alarm episodes (each as it now stands), after the batch or tick that made it."""
        found = [_episode(e) for e in episodes]
        if found:
            self._append("episodes", {"episodes": found})

    def first(self) -> Entry | None:
        """The oldest entry not yet delivered."""
        return next(iter(self._entries("LIMIT 1")), None)

    def entries(self) -> list[Entry]:
        """Every entry not yet delivered, oldest first."""
        return self._entries()

    def _entries(self, limit: str = "") -> list[Entry]:
        with self._lock:
            rows = self._conn.execute(f"SELECT seq, kind, body FROM entries ORDER BY seq {limit}").fetchall()
        found = []
        for seq, kind, text in rows:
            body = json.loads(text)
            if kind == "episodes":
                found.append(Entry(seq, episodes=[_episode_from(e) for e in body["episodes"]]))
            else:
                found.append(Entry(seq, [_reading_from(r) for r in body["readings"]],
                                   [Event(from_us(t), k, x, s) for t, k, x, s in body["events"]]))
        return found

    def delivered(self, seq: int) -> None:
        """The database has committed entry `seq`: it leaves the spool."""
        with self._lock:
            self._conn.execute("DELETE FROM entries WHERE seq = ?", (seq,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def remember(self, key: str, value: Any) -> None:
        """Keep what the process knows now and may need when it restarts with the database still down."""
        with self._lock:
            self._conn.execute("INSERT INTO known (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                               "SET value = excluded.value", (key, json.dumps(value)))

    def remember_readings(self, key: str, readings: Iterable[Reading]) -> None:
        self.remember(key, [_reading(r) for r in readings])

    def recall_readings(self, key: str) -> list[Reading]:
        return [_reading_from(r) for r in self.recall(key) or []]

    def recall(self, key: str) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM known WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])
