"""The beds of a central server that acquires none of them (`vigil serve --no-acquire`): chair computers do, each
`vigil acquire --config … --bed …`, into the shared database.

Such a server has no link of its own to a bed: a bed's session is whichever the database says the bed is on now
(the chair opens the next one after "end session"), and whether the bed is live is whether its chair computer
is heard from — its lease's heartbeat (`monitor/store/holders.py`). A chair computer not heard from for the
lease's time, stopped, or never started takes its bed offline on the central view, saying so and since when.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from monitor.site.config import Bed, ReplayBed
from monitor.store import Holder, Store

HOLDERS_CHECK_S = 1.0  # the holders are read at most this often per stream: a lease goes stale in seconds, not ms


def offline_reason(holder: Holder | None, tz: tzinfo, now: datetime | None = None) -> str | None:
    """Why a bed a chair computer acquires is offline (None: its chair computer is heard from)."""
    if holder is None:
        return "no chair computer has acquired this bed"
    if holder.released is not None:
        return f"chair computer {holder.host} stopped at {_when(holder.released, tz, now)}"
    if holder.stale:
        return f"chair computer {holder.host} not heard from since {_when(holder.heard, tz, now)}"
    return None


def _when(t: datetime, tz: tzinfo, now: datetime | None) -> str:
    """HH:MM:SS, with the date when it is not today's."""
    local, today = t.astimezone(tz), (now or datetime.now(UTC)).astimezone(tz).date()
    return f"{local:%H:%M:%S}" if local.date() == today else f"{local:%Y-%m-%d %H:%M:%S}"


class RemoteBeds:
    """What a central server knows of beds that chair computers acquire: their sessions and their holders."""

    def __init__(self, store: Store, beds: Sequence[Bed]) -> None:
        self.store = store
        self._wanted = {bed.id: bed.label if isinstance(bed, ReplayBed) else None for bed in beds}
        self._offline: dict[str, str | None] = {}
        self._checked = float("-inf")
        self._sessions: dict[str, int] = {}

    def session(self, bed_id: str) -> int | None:
        """The bed's session now (None before its first): what its view shows on a page load."""
        return self.store.beds.latest_sessions({bed_id: self._wanted[bed_id]}).get(bed_id)

    def sessions(self) -> dict[str, int]:
        """Every bed's session now, in one read (a bed with none yet is missing). A bed on a new session has a new
        holder (a chair computer takes the bed before it opens one): the holders are read afresh next."""
        found = self.store.beds.latest_sessions(self._wanted)
        if found != self._sessions:
            self._sessions, self._checked = found, float("-inf")
        return found

    def offline(self, tz: tzinfo) -> dict[str, str | None]:
        """Each bed's offline reason (`offline_reason`), read afresh at most every HOLDERS_CHECK_S."""
        if time.monotonic() - self._checked >= HOLDERS_CHECK_S:
            holders = self.store.holders.current(self._wanted)
            self._offline = {bed_id: offline_reason(holders.get(bed_id), tz) for bed_id in self._wanted}
            self._checked = time.monotonic()
        return self._offline
