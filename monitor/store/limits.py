"""Alarm limits, versioned per session: every change is a new version, audited value by value."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.store.audit import write_audit
from monitor.store.database import Database
from monitor.store.schema import limits
from monitor.store.sessions import SessionEnded, claim_open
from monitor.timeutil import from_us, to_us


@dataclass(frozen=True)
class LimitsVersion:
    version: int
    effective: datetime
    who: str
    data: dict


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"vitals": {"sbp": {"high": 180.0}}} → {"vitals.sbp.high": "180"}: what an audit entry names and
    shows (numbers as the limits editor shows them, 94 not 94.0)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = f"{value:g}" if isinstance(value, float) else value
    return flat


def add_version(conn: Connection, session_id: int, data: dict, effective: datetime, who: str,
                now: datetime) -> int:
    """A new version of the session's limits, audited value by value (the first as a whole), in the caller's
    transaction; returns its number."""
    previous = conn.execute(
        sa.select(limits.c.version, limits.c.data)
        .where(limits.c.session_id == session_id)
        .order_by(limits.c.version.desc())
        .limit(1)
    ).first()
    version = 1 if previous is None else previous.version + 1
    conn.execute(
        limits.insert().values(
            session_id=session_id, version=version, effective_us=to_us(effective), who=who,
            data=json.dumps(data, sort_keys=True),
        )
    )
    new = flatten(data)
    if previous is None:
        changes = [("limits", "", ", ".join(f"{k}={v}" for k, v in sorted(new.items())))]
    else:
        old = flatten(json.loads(previous.data))
        changes = [(key, old.get(key, ""), new.get(key, "")) for key in sorted(old.keys() | new.keys())
                   if old.get(key) != new.get(key)]
    for key, before, after in changes:
        write_audit(conn, session_id, who, "limits", key, before, after, now, effective)
    return version


class Limits:
    """Saving a session's limits and reading its versions back."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, session_id: int, data: dict, effective: datetime, who: str) -> int:
        """Store a new limits version, with one audit entry per changed value; returns its version.

        The first version of a session is audited as a whole ("set"), later ones as old → new per key.
        An ended session's record is closed: `SessionEnded` is raised, the refusal audited, nothing else changed.
        """
        now = datetime.now(UTC)
        with self.db.engine.begin() as conn:
            still_open = claim_open(conn, session_id)
            if not still_open:
                write_audit(conn, session_id, who, "limits_refused", "limits", "", "the session has ended", now,
                            effective)
            else:
                version = add_version(conn, session_id, data, effective, who, now)
        if not still_open:
            raise SessionEnded(f"session {session_id} has ended: its limits can no longer change")
        self.db.notify()
        return version

    def versions(self, session_id: int) -> list[LimitsVersion]:
        """Every version of the session's limits, oldest first."""
        q = sa.select(limits).where(limits.c.session_id == session_id).order_by(limits.c.version)
        with self.db.read() as conn:
            return [LimitsVersion(row.version, from_us(row.effective_us), row.who, json.loads(row.data))
                    for row in conn.execute(q)]

    def version(self, session_id: int) -> int:
        """The newest limits version number (0 if none): cheap enough to poll."""
        with self.db.read() as conn:
            version = conn.execute(
                sa.select(sa.func.max(limits.c.version)).where(limits.c.session_id == session_id)
            ).scalar()
        return version or 0

    def current(self, session_id: int) -> dict | None:
        """The newest version's limits, as saved (None if none)."""
        q = (
            sa.select(limits.c.data)
            .where(limits.c.session_id == session_id)
            .order_by(limits.c.version.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            data = conn.execute(q).scalar()
        return None if data is None else json.loads(data)
