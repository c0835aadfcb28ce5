"""The beds a process acquires, held for it in the store (`monitor/store/holders.py`) while it runs.

Taken before any bed is opened — a bed another live process holds is refused, naming that process, and nothing
of it is touched — then renewed by a heartbeat thread of its own, beside the runners: the heartbeat never waits
on acquisition and acquisition never waits on it. A heartbeat that fails (the database unreachable for a moment)
is logged and tried again at the next beat; the lease survives as long as no other process took the bed over in
the meantime. A bed that was taken over (this process stalled past the lease) is reported to `on_lost` once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

from monitor.errors import first_line
from monitor.store import Store
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

    def __init__(self, store: Store, bed_ids: Sequence[str], *, on_lost: Callable[[str], None] = lambda bed: None,
                 every: float = HEARTBEAT_S) -> None:
        self.store = store
        self.bed_ids = list(bed_ids)
        self.token = uuid.uuid4().hex
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.lost: set[str] = set()
        self._on_lost = on_lost
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="bed-leases", daemon=True)

    def take(self) -> None:
        """Hold every bed, or none: BedHeld (those taken so far released) if a live process holds one. A holder on
        this computer whose process is gone (this command killed and started again) is taken over at once."""
        for taken, bed_id in enumerate(self.bed_ids):
            holder = self.store.holders.take(bed_id, self.token, self.host, self.pid)
            if holder is not None and holder.host == self.host and not _running(holder.pid):
                holder = self.store.holders.take(bed_id, self.token, self.host, self.pid, dead=holder.token)
            if holder is not None:
                self.store.holders.release(self.token, self.bed_ids[:taken])
                raise BedHeld(f"bed {bed_id} is acquired by {holder.describe()}; stop that process, or wait until "
                              f"it has not been heard from for {LEASE_TTL_S:g} s")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the heartbeat and release the beds still held (a bed taken over is the new holder's)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        held = [bed for bed in self.bed_ids if bed not in self.lost]
        if held:
            try:
                self.store.holders.release(self.token, held)
            except Exception as exc:  # the database is down: the leases expire on their own
                log.warning("could not release beds %s: %s", ", ".join(held), first_line(exc))

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                mine = self.store.holders.renew(self.token)
            except Exception as exc:
                log.warning("bed lease heartbeat failed (retrying): %s", first_line(exc))
                continue
            for bed_id in self.bed_ids:
                if bed_id not in mine and bed_id not in self.lost:
                    self.lost.add(bed_id)
                    log.error("bed %s was taken over by another process: this one no longer acquires it", bed_id)
                    self._on_lost(bed_id)
