"""Correcting or withdrawing an entered dose event: a clinician's amendment of the record, with a reason.

A wrong click on "Dose start" moves the session's time zero, and with it every checkpoint, the baseline, the
discharge time and the rise alarms. As on a paper chart the wrong entry is struck, never erased: the store
keeps it with who struck it, when and why, the correction is a new entry that names it, and the audit trail
holds old → new. Everything that counts from the event reads the events in force, so it follows at once.

The rules mirror `service.enter_dose`: a corrected time keeps the dose events in their order (a dose end
after its start), lies within the session (not before its first reading, not after the session clock's
"now"), and an event is withdrawn only once the events after it are.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from monitor.session.service import EVENT_NAMES, MAX_NOTE_BYTES, Refused, open_session
from monitor.session.types import session_type
from monitor.store import SessionInfo, Store, StoredEvent

AMEND_NEEDS_CLINICIAN = "correcting or withdrawing an entered event needs a clinician"


class AmendRefused(Refused):
    """Asked for by someone whose role may not amend the record: refused, and worth an audit entry."""


def clock_time(text: str, near: datetime, tz: tzinfo) -> datetime:
    """"HH:MM" or "HH:MM:SS" on the display clock (`tz`), as the instant nearest `near` (the event's recorded
    time): a correction is minutes away from the entry, and this way a session past midnight needs no date."""
    try:
        parts = [int(p) for p in text.strip().split(":")]
        if len(parts) not in (2, 3):
            raise ValueError(text)
        hour, minute, second = (*parts, 0)[:3]
        local = near.astimezone(tz)
        same_day = local.replace(hour=hour, minute=minute, second=second, microsecond=0)
    except ValueError:
        raise Refused(f"{text.strip() or 'nothing'!r} is not a time: write it as HH:MM:SS") from None
    candidates = [(same_day + timedelta(days=d)).astimezone(tz) for d in (-1, 0, 1)]
    return min(candidates, key=lambda t: abs(t - near))


def _check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Refused("a reason is required")
    if len(text.encode()) > MAX_NOTE_BYTES:
        raise Refused(f"the reason is too long (at most {MAX_NOTE_BYTES} bytes, about as many letters)")
    return text


def _entered_event(store: Store, info: SessionInfo, event_id: int) -> tuple[StoredEvent, list[StoredEvent]]:
    """The dose event entered on screen and still in force, and every event in force."""
    in_force = store.samples.events_with_authors(info.id)
    found = next((s for s in in_force if s.id == event_id), None)
    if found is None or found.entered_by is None or found.event.kind not in EVENT_NAMES:
        raise Refused("choose a dose event entered on screen and still in force")
    return found, in_force


def _neighbours(info: SessionInfo, kind: str, in_force: list[StoredEvent]) -> tuple[StoredEvent | None, ...]:
    """The dose events in force just before and just after `kind` in the session type's order."""
    order = session_type(info.session_type).dose_buttons
    if kind not in order:
        return None, None
    i = order.index(kind)

    def of(k: str | None) -> StoredEvent | None:
        return next((s for s in in_force if s.event.kind == k), None)

    return of(order[i - 1] if i > 0 else None), of(order[i + 1] if i + 1 < len(order) else None)


def _checked(store: Store, session_id: int, event_id: int, wall: datetime, reason: str | None, may_amend: bool
             ) -> tuple[str, SessionInfo, datetime, StoredEvent, list[StoredEvent]]:
    """What every amendment checks first: the role, an open session, a reason, an entered dose event in force.
    Returns the reason, the session, its clock's now, the event and every event in force."""
    if not may_amend:
        raise AmendRefused(AMEND_NEEDS_CLINICIAN)
    info, now = open_session(store, session_id, wall)
    text = _check_reason(reason)
    found, in_force = _entered_event(store, info, event_id)
    return text, info, now, found, in_force


def _strike(store: Store, session_id: int, found: StoredEvent, who: str, wall: datetime, now: datetime,
            reason: str, new_time: datetime | None) -> StoredEvent | None:
    try:
        return store.samples.amend_event(session_id, found.id, who, wall, now, reason, new_time)
    except ValueError as exc:
        raise Refused(f"{EVENT_NAMES[found.event.kind]} not changed: {exc}") from None


def correct_event(store: Store, session_id: int, event_id: int, who: str, wall: datetime, new_time: str | datetime,
                  reason: str | None, *, tz: tzinfo, may_amend: bool = True) -> StoredEvent:
    """Correct an entered dose event's time (`new_time`: an instant, or "HH:MM:SS" on the display clock
    `tz`, nearest the recorded time). Returns the correction, now in force; else `Refused` with why."""
    text, info, now, found, in_force = _checked(store, session_id, event_id, wall, reason, may_amend)
    name = EVENT_NAMES[found.event.kind]

    def shown(t: datetime) -> str:
        return t.astimezone(tz).strftime("%H:%M:%S")

    at = clock_time(new_time, found.event.time, tz) if isinstance(new_time, str) else new_time
    if at == found.event.time:
        raise Refused(f"{name} is already at {shown(at)}")
    if at > now:
        raise Refused(f"{shown(at)} is in the future: the session clock is at {shown(now)}")
    start = store.samples.first_time(session_id)
    if start is not None and at < start:
        raise Refused(f"{shown(at)} is before the session started ({shown(start)})")
    before, after = _neighbours(info, found.event.kind, in_force)
    if before is not None and at <= before.event.time:
        raise Refused(f"{name} must be after {EVENT_NAMES[before.event.kind]} ({shown(before.event.time)})")
    if after is not None and at >= after.event.time:
        raise Refused(f"{name} must be before {EVENT_NAMES[after.event.kind]} ({shown(after.event.time)}): "
                      f"correct {EVENT_NAMES[after.event.kind]} first")
    correction = _strike(store, session_id, found, who, wall, now, text, at)
    assert correction is not None
    return correction


def withdraw_event(store: Store, session_id: int, event_id: int, who: str, wall: datetime, reason: str | None, *,
                   may_amend: bool = True) -> StoredEvent:
    """Withdraw an entered dose event (it did not happen): struck, with the reason. Returns it as it was."""
    text, info, now, found, in_force = _checked(store, session_id, event_id, wall, reason, may_amend)
    _, after = _neighbours(info, found.event.kind, in_force)
    if after is not None:
        raise Refused(f"withdraw {EVENT_NAMES[after.event.kind]} first: it follows "
                      f"{EVENT_NAMES[found.event.kind]}")
    _strike(store, session_id, found, who, wall, now, text, None)
    return found
