"""The beds a process acquires, held for it in the store (`monitor/store/holders.py`) while it runs.

Taken before any bed is opened — a bed another live process holds is refused, naming that process, and nothing
of it is touched — then renewed by a heartbeat thread of its own, beside the runners: the heartbeat never waits
on acquisition and acquisition never waits on it. A heartbeat that fails (the database unreachable for a moment)
is logged and tried again at the next beat; the lease survives as long as no other process took the bed over in
the meantime. A bed that was taken over (this process stalled past the lease) is reported to `on_lost` once.

A chair computer started while its database server is out of reach holds nothing yet (`store` None): its bed
acquires into its spool, and the lease is taken when the database is first reached, before the spool is delivered
(`hold`). After an outage, too, the lease is confirmed before delivery. A bed another live process took meanwhile
is not delivered into: that process writes it now; this one stops, its spool kept (docs/outage.md).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

from monitor.errors import first_line
from monitor.store import Holder, Store
from monitor.store.holders import HEARTBEAT_S, LEASE_TTL_S

log = logging.getLogger(__name__)


def _running(pid: int) -> bool:
    """Whether a process `pid` runs on this computer (one of another user's counts: it may be the holder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it may be the holder
    return True


class BedHeld(RuntimeError):
    """A bed is acquired by another live process: the message is one line naming it."""


class BedLeases:
    """This process's hold on `bed_ids`: `take`, then `start` the heartbeat; `stop` releases them."""

    def __init__(self, store: Store | None, bed_ids: Sequence[str], *,
                 on_lost: Callable[[str], None] = lambda bed: None, every: float = HEARTBEAT_S) -> None:
        self.store = store
        self.bed_ids = list(bed_ids)
        self.token = uuid.uuid4().hex
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.lost: set[str] = set()
        self.taken_by: dict[str, Holder] = {}  # who took each bed lost, as far as known
        self.on_lost = on_lost  # may be set once what it stops exists
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="bed-leases", daemon=True)

    def take(self) -> None:
        """Hold every bed, or none: BedHeld (those taken so far released) if a live process holds one. A holder on
        this computer whose process is gone (this command killed and started again) is taken over at once."""
        for taken, bed_id in enumerate(self.bed_ids):
            holder = self._take(self._held(), bed_id)
            if holder is not None:
                self._held().holders.release(self.token, self.bed_ids[:taken])
                raise BedHeld(f"bed {bed_id} is acquired by {holder.describe()}; stop that process, or wait until "
                              f"it has not been heard from for {LEASE_TTL_S:g} s")

    def hold(self, store: Store) -> None:
        """Before a spool is delivered (the database reached again, or for the first time): the beds are still this
        process's, renewed, or taken if free, stale or their holder is dead. BedHeld, naming the holder, if another
        live process has one: nothing may be delivered into it."""
        mine = store.holders.renew(self.token)
        for bed_id in self.bed_ids:
            holder = None if bed_id in mine else self._take(store, bed_id)
            if holder is not None:
                self.lost.add(bed_id)
                self.taken_by[bed_id] = holder
                raise BedHeld(f"bed {bed_id} was taken by {holder.describe()} while this process could not reach "
                              "the database")
        self.store = store  # only now: the heartbeat would count a bed not yet taken as lost

    def _take(self, store: Store, bed_id: str) -> Holder | None:
        """Take the bed (None), or the live holder that keeps it."""
        holder = store.holders.take(bed_id, self.token, self.host, self.pid)
        if holder is not None and holder.host == self.host and not _running(holder.pid):
            holder = store.holders.take(bed_id, self.token, self.host, self.pid, dead=holder.token)
        return holder

    def _taken(self, store: Store, bed_id: str) -> None:
        """Note who took the bed (if the database says, now)."""
        try:
            holder = store.holders.current([bed_id]).get(bed_id)
        except Exception as exc:
            log.warning("could not read who took bed %s: %s", bed_id, first_line(exc))
            return
        if holder is not None:
            self.taken_by[bed_id] = holder

    def _held(self) -> Store:
        assert self.store is not None, "the beds are taken once the database is reached"
        return self.store

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the heartbeat and release the beds still held (a bed taken over is the new holder's)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        held = [bed for bed in self.bed_ids if bed not in self.lost]
        if held and self.store is not None:
            try:
                self.store.holders.release(self.token, held)
            except Exception as exc:  # the database is down: the leases expire on their own
                log.warning("could not release beds %s: %s", ", ".join(held), first_line(exc))

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            if self.store is None:  # the database not reached yet: nothing is held
                continue
            try:
                mine = self.store.holders.renew(self.token)
            except Exception as exc:
                log.warning("bed lease heartbeat failed (retrying): %s", first_line(exc))
                continue
            for bed_id in self.bed_ids:
                if bed_id not in mine and bed_id not in self.lost:
                    self._taken(self.store, bed_id)
                    self.lost.add(bed_id)
                    log.error("bed %s was taken over by another process: this one no longer acquires it", bed_id)
                    self.on_lost(bed_id)
