"""The audit trail: who did what, when, appended and never changed (the database refuses, see `schema`).

A change and its audit entry commit together: the other concerns of the store call `write_audit` inside
their own transaction. `Audit` writes entries that stand alone (a sign-in refused, a request forbidden)
and reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.store.database import Database
from monitor.store.schema import audit
from monitor.timeutil import from_us, to_us


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    session_time: datetime | None
    who: str
    action: str
    target: str
    old: str
    new: str
    session_id: int | None = None
    reason: str = ""  # why, for the actions that need a reason (correcting or withdrawing an entered event)


def write_audit(conn: Connection, session_id: int | None, who: str, action: str, target: str, old: Any, new: Any,
                at: datetime, session_time: datetime | None, reason: str | None = None) -> None:
    """Append an audit entry inside the caller's transaction, so the change and its record commit together."""
    conn.execute(audit.insert().values(
        session_id=session_id, at_us=to_us(at), session_us=None if session_time is None else to_us(session_time),
        who=who, action=action, target=target, old=str(old), new=str(new), reason=reason,
    ))


class Audit:
    """The audit trail (append-only)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, who: str, action: str, target: str = "", old: Any = "", new: Any = "", *,
              session_id: int | None = None, at: datetime | None = None) -> None:
        """Append one audit entry on its own (a sign-in, a refused request, a user added)."""
        with self.db.engine.begin() as conn:
            write_audit(conn, session_id, who, action, target, old, new, at or datetime.now(UTC), None)

    def entries(self, *, session_id: int | None = None, who: str | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first: one session's, one user's, or all (sign-ins have no session)."""
        q = sa.select(audit).order_by(audit.c.id)
        if session_id is not None:
            q = q.where(audit.c.session_id == session_id)
        if who is not None:
            q = q.where(audit.c.who == who)
        with self.db.read() as conn:
            return [
                AuditEntry(row.id, from_us(row.at_us), None if row.session_us is None else from_us(row.session_us),
                           row.who, row.action, row.target, row.old, row.new, row.session_id, row.reason or "")
                for row in conn.execute(q)
            ]
