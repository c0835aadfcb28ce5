"""Alarm episodes as stored, with their acknowledgement.

Every change to a session's alarms takes the session's next revision number: the live stream's alarm cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.alarms.engine import Episode
from monitor.store.audit import write_audit
from monitor.store.database import Database, hold_cursor
from monitor.store.schema import alarms
from monitor.timeutil import from_us, to_us

_KEY = ["session_id", "vital", "kind", "direction", "source", "onset_us"]  # an episode's key, as stored
_CHANGING = ["announced_us", "end_us", "priority", "peak", "limit_value", "value", "reached_us", "baseline", "rev"]


@dataclass(frozen=True)
class StoredAlarm:
    """An alarm episode as stored: the engine's snapshot plus its acknowledgement, at a wall-clock time (`acked_at`,
    a real-world act) and on the session clock (`acked_session`; None for one stored before that was kept)."""

    id: int
    episode: Episode
    rev: int
    acked_at: datetime | None
    acked_by: str | None
    acked_session: datetime | None = None


def alarm_revision(conn: Connection, session_id: int) -> int:
    """The session's newest alarm revision (0 if none)."""
    rev = conn.execute(sa.select(sa.func.max(alarms.c.rev)).where(alarms.c.session_id == session_id)).scalar()
    return rev or 0


def _alarm(row: Any) -> StoredAlarm:
    episode = Episode(
        vital=row.vital, direction=row.direction, kind=row.kind, priority=row.priority,
        onset=from_us(row.onset_us), announced=from_us(row.announced_us),
        end=None if row.end_us is None else from_us(row.end_us), peak=row.peak, limit=row.limit_value,
        value=row.value, source=row.source, reached=None if row.reached_us is None else from_us(row.reached_us),
        baseline=row.baseline,
    )
    acked = None if row.acked_us is None else from_us(row.acked_us)
    acked_session = None if row.acked_session_us is None else from_us(row.acked_session_us)
    return StoredAlarm(row.id, episode, row.rev, acked, row.acked_by, acked_session)


class Alarms:
    """Saving the alarm engine's episodes, reading them back by revision, acknowledging them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, session_id: int, episodes: Iterable[Episode]) -> None:
        """Insert or update episodes by their key; each change gets the next revision of the session."""
        latest = {e.key: e for e in episodes}
        if not latest:
            return
        with self.db.engine.begin() as conn:
            hold_cursor(conn, session_id)  # the next revision, read and written with no other writer between
            first_rev = alarm_revision(conn, session_id) + 1
            rows = [
                {
                    "session_id": session_id, "vital": e.vital, "kind": e.kind, "direction": e.direction,
                    "source": e.source, "onset_us": to_us(e.onset), "announced_us": to_us(e.announced),
                    "end_us": None if e.end is None else to_us(e.end), "priority": e.priority, "peak": e.peak,
                    "limit_value": e.limit, "value": e.value, "rev": rev,
                    "reached_us": None if e.reached is None else to_us(e.reached), "baseline": e.baseline,
                }
                for rev, e in enumerate(latest.values(), start=first_rev)
            ]
            self.db.upsert(conn, alarms, rows, keys=_KEY, update=_CHANGING)
        self.db.notify()

    def drop_except(self, session_id: int, keys: set[tuple]) -> None:
        """Delete the session's alarms whose episode key is not in `keys` (after a re-derivation)."""
        with self.db.engine.begin() as conn:
            rows = conn.execute(sa.select(alarms).where(alarms.c.session_id == session_id)).all()
            stale = [row.id for row in rows if _alarm(row).episode.key not in keys]
            if stale:
                conn.execute(alarms.delete().where(alarms.c.id.in_(stale)))
        if stale:
            self.db.notify()

    def since(self, session_id: int, after_rev: int = 0) -> list[StoredAlarm]:
        """Alarms created or changed after revision `after_rev`, in revision order."""
        q = (
            sa.select(alarms)
            .where(alarms.c.session_id == session_id, alarms.c.rev > after_rev)
            .order_by(alarms.c.rev)
        )
        with self.db.read() as conn:
            return [_alarm(row) for row in conn.execute(q)]

    def acknowledge(self, session_id: int, who: str, at: datetime, session_time: datetime | None) -> list[int]:
        """Acknowledge every unacknowledged alarm that is active or latched; returns their ids.

        One press acknowledges all, as on a bedside monitor; each gets its own audit entry.
        """
        with self.db.engine.begin() as conn:
            hold_cursor(conn, session_id)
            pending = conn.execute(
                sa.select(alarms).where(
                    alarms.c.session_id == session_id,
                    alarms.c.acked_us.is_(None),
                    sa.or_(alarms.c.end_us.is_(None), alarms.c.priority == "high"),
                ).order_by(alarms.c.id)
            ).all()
            first_rev = alarm_revision(conn, session_id) + 1
            for rev, row in enumerate(pending, start=first_rev):
                conn.execute(
                    alarms.update().where(alarms.c.id == row.id).values(
                        acked_us=to_us(at), acked_by=who, rev=rev,
                        acked_session_us=None if session_time is None else to_us(session_time))
                )
                episode = _alarm(row).episode
                what = f"{episode.vital} {episode.kind} {episode.direction} ({episode.priority})"
                write_audit(conn, session_id, who, "acknowledge", what, "unacknowledged", "acknowledged", at,
                            session_time)
        if pending:
            self.db.notify()
        return [row.id for row in pending]
