"""What a user does to a session — set it up, enter a dose event or a note, end it — checked, then stored.

Each action is validated against the session as the store holds it at the session clock's "now"
and either changes the store (audited, with who) or raises `Refused` with a message for the user
and changes nothing. The dashboard's callbacks are thin wrappers, so these rules hold for any
front end, and the tests exercise them without a browser.
"""

from __future__ import annotations

from datetime import datetime

from adapters.model.reading import DOSE_KINDS, Event
from adapters.model.vitals import NIBP_CODES
from monitor.alarms.text import alarm_text
from monitor.limits.model import PRESETS, load_preset
from monitor.session.baseline import Gate, baseline, gate, nibp_measurements
from monitor.session.discharge import Readiness, readiness
from monitor.session.timeline import anchor_time
from monitor.session.types import SESSION_TYPES, session_type
from monitor.store import SessionEnded, SessionInfo, Store

ENTERED = "entered"  # the source of events entered on screen
MAX_LABEL = 100
MAX_NOTE_BYTES = 2000  # as UTF-8: the note is part of a unique index, which PostgreSQL bounds in bytes
EVENT_NAMES = {"dose_start": "Dose start", "dose_end": "Dose end", "device_1": "Device 1", "device_2": "Device 2",
               "device_3": "Device 3"}


OVERRIDE_NEEDS_CLINICIAN = "an override needs a clinician"


class Refused(ValueError):
    """The action was not carried out; the message says why, for the user."""


class OverrideRefused(Refused):
    """An override asked for by someone whose role may not override: refused, and worth an audit entry."""


class GateAdvisory(Refused):
    """Dosing needs an explicit "proceed" with a reason: the gate's findings say why."""

    def __init__(self, advisory: Gate) -> None:
        super().__init__("pre-dose BP gate: " + "; ".join(advisory.findings))
        self.gate = advisory


def open_session(store: Store, session_id: int, wall: datetime) -> tuple[SessionInfo, datetime]:
    """The session and its clock's "now"; refused once ended, or before the clock has started."""
    info = store.sessions.info(session_id)
    if info.ended is not None:
        raise Refused("the session has ended")
    now = info.clock_now(wall)
    if now is None:
        raise Refused("the session clock has not started yet (no data from the monitor)")
    return info, now


def set_up(store: Store, session_id: int, who: str, wall: datetime, *, type_name: str, patient_label: str,
           bed: str, preset: str | None) -> list[str]:
    """Save type, patient label and bed; a preset named replaces the limits from now. Returns what changed."""
    if type_name not in SESSION_TYPES:
        raise Refused(f"unknown session type {type_name!r}")
    label, bed = patient_label.strip(), bed.strip()
    if len(label) > MAX_LABEL:
        raise Refused(f"the patient label is longer than {MAX_LABEL} characters")
    if not bed or len(bed) > 50:
        raise Refused("the bed needs a name of at most 50 characters")
    if preset is not None and preset not in PRESETS:
        raise Refused(f"unknown limits preset {preset!r}")
    info, now = open_session(store, session_id, wall)
    if type_name != info.session_type and anchor_time(store.samples.events(session_id)) is not None:
        raise Refused("the session type cannot change after the first dose: its checkpoints count from it")
    changed = store.sessions.set_up(session_id, who, wall, now, session_type=type_name, patient_label=label, bed=bed)
    current = store.limits.current(session_id)
    if preset is not None and (current is None or current.get("preset") != preset):
        try:
            store.limits.save(session_id, load_preset(preset).to_dict(), now, who)
        except SessionEnded:  # ended by someone else a moment ago
            raise Refused("the session has ended") from None
        changed.append("limits")
    return changed


def pre_dose_gate(store: Store, session_id: int, now: datetime) -> Gate:
    info = store.sessions.info(session_id)
    measurements = nibp_measurements(store.samples.readings_of(session_id, NIBP_CODES))
    return gate(session_type(info.session_type), baseline([m for m in measurements if m.time <= now], None, now))


def enter_dose(store: Store, session_id: int, who: str, wall: datetime, kind: str,
               proceed_reason: str | None = None, *, may_override: bool = True) -> Event:
    """One click: the dose event at the session clock's now. The first dose event passes the BP gate,
    or raises `GateAdvisory` until a "proceed" reason is given, which is audited. Proceeding is an
    override: refused unless `may_override` (a clinician)."""
    info, now = open_session(store, session_id, wall)
    stype = session_type(info.session_type)
    if kind not in stype.dose_buttons:
        raise Refused(f"{EVENT_NAMES.get(kind, kind)} is not an event of a {stype.label} session")
    events = store.samples.events(session_id)
    done = next((e for e in events if e.kind == kind), None)
    if done is not None:
        raise Refused(f"{EVENT_NAMES[kind]} was already entered")
    order = stype.dose_buttons
    previous = order[order.index(kind) - 1] if order.index(kind) > 0 else None
    if previous is not None and not any(e.kind == previous for e in events):
        raise Refused(f"enter {EVENT_NAMES[previous]} first")
    reason = (proceed_reason or "").strip()
    proceed = None
    if kind in DOSE_KINDS and anchor_time(events) is None:
        advisory = pre_dose_gate(store, session_id, now)
        if advisory.needs_proceed:
            if not reason:
                raise GateAdvisory(advisory)
            if not may_override:
                raise OverrideRefused(OVERRIDE_NEEDS_CLINICIAN)
            proceed = ("; ".join(advisory.findings), reason)
    event = Event(now, kind, source=ENTERED)
    if not store.samples.enter_event(session_id, event, who, wall, proceed=proceed):
        raise Refused(f"{EVENT_NAMES[kind]} was already entered")
    return event


def enter_note(store: Store, session_id: int, who: str, wall: datetime, text: str) -> Event:
    body = text.strip()
    if not body:
        raise Refused("the note is empty")
    if len(body.encode()) > MAX_NOTE_BYTES:
        raise Refused(f"the note is too long (at most {MAX_NOTE_BYTES} bytes, about as many letters)")
    _, now = open_session(store, session_id, wall)
    event = Event(now, "note", body, source=ENTERED)
    if not store.samples.enter_event(session_id, event, who, wall):
        raise Refused("the same note was just added")
    return event


def discharge_readiness(store: Store, session_id: int, wall: datetime) -> Readiness:
    """The readiness summary at the session clock's now (what "end session" shows and checks)."""
    info, now = open_session(store, session_id, wall)
    stype = session_type(info.session_type)
    events = [e for e in store.samples.events(session_id) if e.time <= now]
    anchor = anchor_time(events)
    measurements = [m for m in nibp_measurements(store.samples.readings_of(session_id, NIBP_CODES)) if m.time <= now]
    active = [alarm_text(a.episode) for a in store.alarms.since(session_id)
              if a.episode.end is None and a.episode.announced <= now]
    return readiness(stype, anchor, measurements, baseline(measurements, anchor, now), active, now)


def end_session(store: Store, session_id: int, who: str, wall: datetime, *, override_reason: str | None = None,
                ready_min: float | None = None, may_override: bool = True) -> Readiness:
    """End the session if the guard allows it, or with an override reason (audited) if `may_override`
    (a clinician); else `Refused`."""
    ready = discharge_readiness(store, session_id, wall)
    reason = (override_reason or "").strip()
    if ready.needs_override and not reason:
        raise Refused(f"cannot end the session yet ({ready.refusal}); an override needs a reason")
    if ready.needs_override and not may_override:
        raise OverrideRefused(f"cannot end the session yet ({ready.refusal}); {OVERRIDE_NEEDS_CLINICIAN}")
    if ready_min is not None and not (0 <= ready_min <= (ready.elapsed_min or 0)):
        raise Refused("'ready to leave at' must be between 0 and the minutes since the dose")
    try:
        store.sessions.end(session_id, who, wall, ready.now, override=reason if ready.needs_override else None,
                           ready_min=ready_min)
    except ValueError:
        raise Refused("the session has ended") from None
    return ready
