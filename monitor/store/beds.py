"""Beds: the lasting chairs of a site, each with its monitor and at most one open session.

A bed's session is continuous: whatever process acquires from the bed (again after a crash, a `kill -9`, a
reboot) writes into the bed's open session, and opens one with the bed's defaults only when there is none —
after "end session", or on first use. The database decides (`uq_open_session_per_bed`), so two processes
that race to open one end up in the same session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from adapters.model.reading import Reading
from adapters.model.vitals import NIBP_CODES
from monitor.store.audit import write_audit
from monitor.store.database import Database
from monitor.store.limits import add_version
from monitor.store.samples import reading_from_row
from monitor.store.schema import beds, readings, sessions
from monitor.store.sessions import insert_session
from monitor.timeutil import to_us

BED_ID = re.compile(r"[A-Za-z0-9-]{1,50}")
OPEN_ATTEMPTS = 5  # an open session found, or made, or made by another process a moment ago: a few at most


def check_bed_id(text: str) -> str:
    """The bed id as given, or ValueError saying what a bed id is."""
    if not BED_ID.fullmatch(text):
        raise ValueError(f"a bed id is 1 to 50 letters, digits and '-', not {text!r}")
    return text


@dataclass(frozen=True)
class Bed:
    """A bed as stored: what a new session on it starts with, and where its data comes from."""

    id: str
    label: str
    session_type: str = "other"
    limits_preset: str | None = None  # a new session's limits: this preset,
    limits: dict | None = None  # or exactly these (`Limits.to_dict()`); neither: its type's preset
    origin: str = ""  # a port URL, an HL7 sender, a recording


def _bed(row: Any) -> Bed:
    return Bed(row.id, row.label, row.session_type, row.limits_preset,
               None if row.limits is None else json.loads(row.limits), row.origin)


def _columns(bed: Bed) -> dict[str, Any]:
    values = {f.name: getattr(bed, f.name) for f in fields(bed)}
    values["limits"] = None if bed.limits is None else json.dumps(bed.limits, sort_keys=True)
    return values


class Beds:
    """Declaring beds, and finding (or opening) each bed's one open session."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def declare(self, bed: Bed, who: str) -> None:
        """Store the bed as configured: added on first use, else its changed fields updated, each audited
        (old → new). Its open session, if any, keeps its own set-up: the defaults apply to the next one."""
        check_bed_id(bed.id)
        now = datetime.now(UTC)
        wanted = _columns(bed)
        with self.db.engine.begin() as conn:
            row = conn.execute(sa.select(beds).where(beds.c.id == bed.id)).first()
            if row is None:
                self.db.upsert(conn, beds, [wanted | {"created_us": to_us(now)}])  # a racing declare: one row
                write_audit(conn, None, who, "bed_added", bed.id, "", bed.label, now, None)
                changed = True
            else:
                old = _columns(_bed(row))
                changed = old != wanted
                if changed:
                    conn.execute(beds.update().where(beds.c.id == bed.id).values(wanted))
                for key in sorted(k for k in wanted if old[k] != wanted[k]):
                    write_audit(conn, None, who, "bed", f"{bed.id}.{key}", old[key] or "", wanted[key] or "", now,
                                None)
        if changed:
            self.db.notify()

    def get(self, bed_id: str) -> Bed | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(beds).where(beds.c.id == bed_id)).first()
        return None if row is None else _bed(row)

    def listing(self) -> list[Bed]:
        """Every bed, by id."""
        with self.db.read() as conn:
            return [_bed(row) for row in conn.execute(sa.select(beds).order_by(beds.c.id))]

    def open_session(self, bed_id: str) -> int | None:
        """The bed's open session, if it has one."""
        with self.db.read() as conn:
            found = conn.execute(sa.select(sessions.c.id).where(sessions.c.bed_id == bed_id,
                                                                sessions.c.ended_us.is_(None))).scalar()
        return None if found is None else int(found)

    def latest_sessions(self, wanted: Mapping[str, str | None]) -> dict[str, int]:
        """Each bed's session now, for a server that does not acquire it: its open session, else the last it had
        (a bed that never had one is left out). A replayed bed, given with its label (it has no bed row), has its
        newest replay session under that label. Two queries, however many beds."""
        live = [bed_id for bed_id, label in wanted.items() if label is None]
        replays = {label: bed_id for bed_id, label in wanted.items() if label is not None}
        c, found = sessions.c, {}
        with self.db.read() as conn:
            if live:  # a bed's open session is its newest: the next opens only after it ended
                q = sa.select(c.bed_id, sa.func.max(c.id)).where(c.bed_id.in_(live)).group_by(c.bed_id)
                found.update({bed_id: int(newest) for bed_id, newest in conn.execute(q)})
            if replays:
                q = (sa.select(c.bed, sa.func.max(c.id))
                     .where(c.bed_id.is_(None), c.kind == "replay", c.bed.in_(list(replays))).group_by(c.bed))
                found.update({replays[label]: int(newest) for label, newest in conn.execute(q)})
        return found

    def session(self, bed_id: str, *, name: str, who: str, limits: dict, limits_from: datetime,
                patient_label: str = "") -> tuple[int, bool]:
        """The bed's open session, continued; or, if it has none, a new one opened with the bed's default type,
        these `limits` in force from `limits_from` and `patient_label`, all audited as by `who` in one
        transaction (a crash leaves either the whole set-up or no session). True if opened now."""
        for _ in range(OPEN_ATTEMPTS):
            found = self.open_session(bed_id)
            if found is not None:
                return found, False
            now = datetime.now(UTC)
            try:
                with self.db.engine.begin() as conn:
                    bed = conn.execute(sa.select(beds).where(beds.c.id == bed_id)).one()
                    session_id = insert_session(conn, name, "live", who, now, bed=bed.label, bed_id=bed_id,
                                                origin=bed.origin, session_type=bed.session_type,
                                                patient_label=patient_label)
                    add_version(conn, session_id, limits, limits_from, who, now)
            except sa.exc.IntegrityError:  # another process opened the bed's session a moment ago: take it
                continue
            self.db.notify()
            return session_id, True
        raise RuntimeError(f"bed {bed_id}: no open session could be found or opened")

    def last_nibp(self, bed_id: str, source: str) -> list[Reading]:
        """The newest NIBP measurement stored from `source` on the bed (its sbp, dbp and map; none if none):
        what the monitor may still be showing, and repeating, when acquisition starts again."""
        recent = (sa.select(sessions.c.id).where(sessions.c.bed_id == bed_id)
                  .order_by(sessions.c.id.desc()).limit(2))  # the open session, or the one it follows
        q = (sa.select(readings)
             .where(readings.c.session_id.in_(recent),
                    readings.c.source == source, readings.c.vital.in_(NIBP_CODES),
                    readings.c.measured_us.is_not(None))
             .order_by(readings.c.measured_us.desc(), readings.c.id.desc()).limit(len(NIBP_CODES)))
        with self.db.read() as conn:
            rows = list(conn.execute(q))
        return [reading_from_row(row) for row in rows if row.measured_us == rows[0].measured_us]
