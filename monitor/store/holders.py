"""Bed holders: the one process that acquires each bed, on a lease its heartbeat keeps alive.

A bed is acquired by one process at a time — a chair computer's `vigil acquire --config … --bed …`, or a
`vigil serve` that runs the bed itself. A process takes the bed's lease before opening it, renews it every
`HEARTBEAT_S` while it runs, and releases it when it stops. A lease not renewed for `LEASE_TTL_S` (its holder
was SIGKILLed, lost power or its network) is stale, and the next process to ask takes it over.

Times are read from the database's clock, never a host's: the hosts of a site need not agree on the time for a
lease to expire when it should. Taking is one conditional write, so two processes asking at once cannot both win:
on PostgreSQL the loser's update waits for the winner's row and finds it no longer stale; on SQLite the
transaction takes the write lock before it reads anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.store.database import Database
from monitor.store.schema import bed_holders
from monitor.timeutil import from_us

LEASE_TTL_S = 15.0  # a holder not heard from for this long has died: its bed may be taken over
HEARTBEAT_S = 5.0  # how often a holder renews its leases: two missed heartbeats are not yet a death


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a bed. `heard`: its last heartbeat; `released`: when it stopped cleanly (None while
    it runs); `stale`: it has not been heard from for `LEASE_TTL_S`, as of the database's clock now."""

    bed_id: str
    token: str
    host: str
    pid: int
    since: datetime
    heard: datetime
    released: datetime | None
    stale: bool

    def describe(self) -> str:
        """Who it is, for a one-line refusal: `host pid 4242, since 2026-12-03 14:02:11 UTC`."""
        return f"{self.host} pid {self.pid}, since {self.since:%Y-%m-%d %H:%M:%S} UTC"


def _clock_us(conn: Connection) -> int:
    """The database's time now. An SQLite file has one computer's clock: this one's."""
    if conn.dialect.name == "sqlite":
        return time.time_ns() // 1000
    return int(conn.execute(sa.text("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")).scalar_one())


def _holder(row: sa.Row, now_us: int) -> Holder:
    return Holder(row.bed_id, row.token, row.host, row.pid, from_us(row.since_us), from_us(row.heartbeat_us),
                  None if row.released_us is None else from_us(row.released_us),
                  row.released_us is None and now_us - row.heartbeat_us > LEASE_TTL_S * 1e6)


class Holders:
    """Taking, renewing and releasing beds' leases, and reading who holds them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, bed_id: str, token: str, host: str, pid: int, *, dead: str | None = None) -> Holder | None:
        """Take the bed for the process `token` names: None if it is ours now (it was free, released, stale, held
        by the process `dead` names — known to have died — or ours already), else the holder that keeps it."""
        with self.db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: nothing read can change under us
            now = _clock_us(conn)
            mine = {"token": token, "host": host, "pid": pid, "since_us": now, "heartbeat_us": now,
                    "released_us": None}
            taken = self.db.insert_new(conn, bed_holders, {"bed_id": bed_id} | mine)
            if not taken:
                c = bed_holders.c
                free = sa.or_(c.token == token, c.token == dead, c.released_us.is_not(None),
                              c.heartbeat_us < now - int(LEASE_TTL_S * 1e6))
                taken = conn.execute(bed_holders.update().where(c.bed_id == bed_id, free).values(mine)).rowcount == 1
            if not taken:
                return _holder(conn.execute(sa.select(bed_holders).where(bed_holders.c.bed_id == bed_id)).one(), now)
        self.db.notify()
        return None

    def renew(self, token: str) -> set[str]:
        """The heartbeat of the process `token` names, for every bed it holds: the beds still its own (one taken
        over after the process stalled past the lease is missing)."""
        with self.db.engine.begin() as conn:
            now = _clock_us(conn)
            c = bed_holders.c
            mine = sa.and_(c.token == token, c.released_us.is_(None))
            conn.execute(bed_holders.update().where(mine).values(heartbeat_us=now))
            return set(conn.execute(sa.select(c.bed_id).where(mine)).scalars())

    def release(self, token: str, bed_ids: Iterable[str]) -> None:
        """The process stops: its beds are free at once (and the central view says since when)."""
        c = bed_holders.c
        with self.db.engine.begin() as conn:
            conn.execute(bed_holders.update().where(c.token == token, c.bed_id.in_(list(bed_ids)),
                                                    c.released_us.is_(None)).values(released_us=_clock_us(conn)))
        self.db.notify()

    def current(self, bed_ids: Iterable[str]) -> dict[str, Holder]:
        """Who holds, or last held, each of these beds (a bed never held is missing), judged on the database's
        clock now."""
        with self.db.read() as conn:
            now = _clock_us(conn)
            rows = conn.execute(sa.select(bed_holders).where(bed_holders.c.bed_id.in_(list(bed_ids)))).all()
        return {row.bed_id: _holder(row, now) for row in rows}
