"""`vigil acquire --config site.toml --bed chair-N`: a chair computer runs its one bed of a site.

The bed is run as `vigil serve` runs it — its serial link (or replayed recording), its live alarm engine, its
sessions — through the same code (`monitor/runtime/site.py`, a site of one bed), into the site's database, while
the central computer serves the views (`vigil serve --config site.toml --no-acquire`). An HL7 bed listens on the
site's `[hl7] listen` address of this computer and accepts only its own sender: run it on the computer its
monitor sends to. The bed is held for this process while it runs: a second process is refused, naming this one.

A chair on a database server outlives the server: its serial bed acquires into its spool while the server is out
of reach (`open_chair`, shared with `vigil acquire --port`), and holds its bed once the server is reached, before
the spool is delivered — a bed another process took meanwhile is left to it, the spool kept (docs/outage.md).
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from monitor.cli.link import wait
from monitor.cli.options import UsageError, open_store, session_summary
from monitor.cli.site import open_site, site_file
from monitor.errors import first_line

if TYPE_CHECKING:
    from monitor.runtime.lease import BedLeases
    from monitor.runtime.live import LiveRunner
    from monitor.runtime.spool import Spool
    from monitor.store import Store

# What the site file says of a bed: given with --config, these would contradict it.
FROM_THE_SITE = ("port", "listen", "protocol", "hl7_id", "type", "limits", "session", "patient")


def open_chair(args: argparse.Namespace) -> tuple[Store | None, Spool | None, Callable[[], Store]]:
    """The store, and with a database server the bed's spool: a server out of reach is then no error, the bed
    acquires into the spool until it is reached (see docs/outage.md). Also how to reach it again."""
    from monitor.config import default_db
    from monitor.runtime.spool import Spool, default_spool
    from monitor.store import BadDatabaseURL, DatabaseTooNew, Store, Unreachable, database_url

    db = args.db or default_db()
    try:
        server = not database_url(db).startswith("sqlite:")
    except BadDatabaseURL:
        server = False  # open_store says what is wrong with it
    if not server:
        return open_store(args), None, lambda: Store(db)
    try:
        spool = Spool(args.spool or default_spool(args.bed), args.bed)
    except (OSError, ValueError, sqlite3.Error) as exc:
        raise UsageError(f"cannot use the spool: {first_line(exc)}") from None
    try:
        return Store(db), spool, lambda: Store(db)
    except Unreachable as exc:
        print(f"{exc}: acquiring into {spool.path} until it is reached", flush=True)
        return None, spool, lambda: Store(db)
    except DatabaseTooNew as exc:
        raise UsageError(str(exc)) from None


def hold_bed(store: Store | None, bed_id: str) -> BedLeases:
    """The bed's lease for `vigil acquire --port`, taken now if the database is reached (a bed another live process
    holds is refused, naming it), else once it is (`BedLeases.hold`). Started with the runner, stopped after it."""
    from monitor.runtime.lease import BedHeld, BedLeases

    leases = BedLeases(store, [bed_id])
    if store is not None:
        try:
            leases.take()
        except BedHeld as exc:
            raise UsageError(str(exc)) from None
    return leases


def chair_ended(runner: LiveRunner, spool: Spool | None, bed_id: str) -> str:
    """What a chair's acquisition leaves, said when it stops: its session, or what its spool still keeps."""
    if runner.offline and spool is not None:
        return (f"bed {bed_id}: not reaching the database; {len(spool)} entries kept in {spool.path}, delivered "
                "when it is reached (by the next acquire of the bed)")
    assert runner.store is not None
    return session_summary(runner.store, runner.session_id)


def taken_over(leases: BedLeases, bed_id: str, spool: Spool | None) -> UsageError:
    """Another process took the bed while this one was not heard from (stalled, or not reaching the database): this
    one stopped, delivering nothing into the bed the other writes now. One line, naming the holder and, if it keeps
    anything, the spool (closed)."""
    holder = leases.taken_by.get(bed_id)
    kept = ""
    if spool is not None:
        if len(spool):
            kept = f"; what it acquired meanwhile is kept in {spool.path}, not delivered"
        spool.close()
    return UsageError(f"bed {bed_id} was taken over by {'another process' if holder is None else holder.describe()} "
                      f"while this process was not heard from: acquisition stopped{kept}")


def cmd_acquire_bed(args: argparse.Namespace) -> int:
    from monitor.runtime.live import LiveRunner
    from monitor.runtime.site import one_bed
    from monitor.site.config import SerialBed

    given = [name for name in FROM_THE_SITE if getattr(args, name, None)]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} comes from the site file with --config")
    config = site_file(args)
    chair = one_bed(config, args.bed)
    if chair is None:
        raise UsageError(f"{config.path} has no bed {args.bed!r} (its beds: "
                         f"{', '.join(bed.id for bed in config.beds) or 'none'})")
    if isinstance(chair.beds[0], SerialBed):
        store, spool, connect = open_chair(args)
    else:  # an HL7 or replayed bed does not spool: its database must be reached
        store, spool, connect = open_store(args), None, None
    site = open_site(store, chair, args.operator, spool=spool, connect=connect)
    bed = site.beds[0]
    where = "the database once reached" if store is None else store.database.where
    print(f"acquiring bed {bed.config.id} into {where}; Ctrl+C to stop", flush=True)
    site.start()
    try:
        wait(args.duration, lambda: bed.runner.error is None and not site.leases.lost)
    finally:
        site.stop()
    if site.leases.lost:  # whether the heartbeat or the spool's delivery found it out
        raise taken_over(site.leases, bed.config.id, spool)
    if spool is not None:
        assert isinstance(bed.runner, LiveRunner)
        print(chair_ended(bed.runner, spool, bed.config.id))
        spool.close()
    else:
        assert store is not None
        print(session_summary(store, bed.session()))
    if bed.runner.error is not None:
        raise UsageError(f"acquisition failed: {first_line(bed.runner.error)}")
    return 0
