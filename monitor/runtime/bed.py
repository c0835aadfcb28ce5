"""Opening a bed: the one place a session is created with its limits, its live alarm engine and the runner
that feeds it, for a replayed recording or a monitor's link.

A monitor's bed is stored (`store.beds`) and its session is continuous: acquisition continues the bed's open
session — after a crash or a `kill -9` too, its NIBP result not recorded twice — and opens one with the bed's
defaults when there is none; after "end session" the next batch opens the next one, in the same process.
A replay is a recording run, not a bed: each opens a session of its own (no bed row, `bed` its label only).

The CLI opens beds only through here (as will a server of many beds), with plain values: nothing here
knows a command line. The caller starts the runner it gets back (alone, or beside a dashboard).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.files.csv_reader import RecordedSession
from adapters.files.replay import ReplaySource, parse_speed
from adapters.model.reading import DOSE_KINDS, Reading
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import DEFAULT_PRESET, PRESETS, Limits, limits_from_stored, load_preset
from monitor.runtime.live import KNOWN, NIBP, NOT_KNOWN, Link, LiveRunner
from monitor.runtime.replay import ReplayRunner
from monitor.runtime.spool import Spool
from monitor.session.types import session_type
from monitor.store import Bed, Store


@dataclass(frozen=True)
class BedSetup:
    """What a replay's session is: stored with it, and its limits saved and audited as set by `operator`."""

    name: str
    bed: str
    origin: str  # the recording's path
    session_type: str
    limits: Limits
    operator: str
    patient_label: str = ""


def open_replay(store: Store, setup: BedSetup, recording: RecordedSession, speed: str | float, *,
                begin_at: timedelta = timedelta(0), repeat: bool = False) -> ReplayRunner:
    """A replay session of `recording` at `speed` (see `parse_speed`), its limits in force from its start;
    played from `begin_at` into the recording (what comes before is stored at once), and from its start
    again each time it reaches the end if `repeat`."""
    source = ReplaySource([*recording.readings, *recording.events], parse_speed(speed), time.monotonic())
    session_id = _open_session(store, setup, "replay", source.start, recording.relative_time)
    if begin_at:
        source.seek(source.start + begin_at, time.monotonic())
    # A file that holds its dose takes the baseline before it, whatever the type says.
    has_dose = any(e.kind in DOSE_KINDS for e in recording.events) or None
    return ReplayRunner(store, session_id, source, alarms=LiveAlarms(store, session_id, expect_dose=has_dose),
                        repeat=repeat)


@dataclass(frozen=True)
class LiveBed:
    """A bed fed by a monitor, as configured: stored (added, or its changed defaults audited) when opened."""

    id: str  # stable: letters, digits, '-'
    origin: str  # the port
    session_type: str  # what a new session on it starts as
    limits: Limits
    operator: str  # who started acquisition: its new sessions are audited as opened by them
    name: str  # the name its new sessions get
    label: str = ""  # shown on screen (default: the id)


def open_live(store: Store | None, bed: LiveBed, link: Link, *, device_clock: bool, patient_label: str = "",
              spool: Spool | None = None, connect: Callable[[], Store] | None = None,
              hold: Callable[[Store], None] | None = None) -> LiveRunner:
    """The bed fed by `link` (opened), writing into its open session, or into a new one (`patient_label`)
    if it has none; its readings timed by the device's clock or this computer's.

    `spool`: where the bed's data is kept while the database is out of reach (`monitor/runtime/spool.py`).
    `store` None: it is out of reach now; the bed acquires into the spool, judging alarms by what the spool last
    knew (else by its configured limits and type), and `connect` reaches the database when it is back. `hold`: the
    bed's lease, taken or confirmed before the spool is delivered (`BedLeases.hold`)."""
    def session(store: Store, limits_from: datetime, patient: str = "") -> tuple[int, LiveAlarms]:
        session_id, opened = store.beds.session(bed.id, name=bed.name, who=bed.operator,
                                                limits=_defaults(store, bed.id), limits_from=limits_from,
                                                patient_label=patient)
        alarms = LiveAlarms(store, session_id)
        if not opened:
            alarms.resume()
        return session_id, alarms

    def attach(store: Store) -> tuple[int, LiveAlarms]:
        store.beds.declare(Bed(bed.id, bed.label or bed.id, bed.session_type, *_stored(bed.limits),
                               origin=bed.origin), bed.operator)
        # On the device's clock the session's first time is not known yet: the limits apply from the start.
        return session(store, datetime.fromtimestamp(0, UTC) if device_clock else datetime.now(UTC), patient_label)

    link.decoder.resume(_last_nibp(store, spool, bed.id, link.source))
    if store is None:
        assert spool is not None and connect is not None, "a bed out of reach of its database needs a spool"
        known = spool.recall(KNOWN) or {}
        alarms = LiveAlarms.detached(limits_from_stored(known["limits"]) if known else bed.limits,
                                     known.get("session_type", bed.session_type), known.get("expect_dose"))
        return LiveRunner(None, NOT_KNOWN, link, alarms, device_clock=device_clock, next_session=session,
                          spool=spool, connect=connect, attach=attach, hold=hold)
    session_id, alarms = attach(store)
    return LiveRunner(store, session_id, link, alarms, device_clock=device_clock, next_session=session, spool=spool,
                      hold=hold)


def _last_nibp(store: Store | None, spool: Spool | None, bed_id: str, source: str) -> list[Reading]:
    """The bed's newest NIBP measurement from `source`, stored or (the database out of reach) spooled: what the
    monitor may still be showing, and repeating, when acquisition starts again."""
    found = [*(store.beds.last_nibp(bed_id, source) if store is not None else []),
             *(r for r in (spool.recall_readings(NIBP) if spool is not None else []) if r.source == source)]
    newest = max((r.measured_at for r in found if r.measured_at is not None), default=None)
    return list({r.vital: r for r in found if r.measured_at == newest}.values()) if newest else []


def _stored(limits: Limits) -> tuple[str | None, dict | None]:
    """How a bed keeps its default limits: a preset's name when they are exactly that preset, else the values."""
    if limits.preset in PRESETS and load_preset(limits.preset).to_dict() == limits.to_dict():
        return limits.preset, None
    return None, limits.to_dict()


def _defaults(store: Store, bed_id: str) -> dict:
    """The limits a new session on the bed starts with, as stored."""
    bed = store.beds.get(bed_id)
    assert bed is not None, "the bed is declared before its sessions open"
    if bed.limits is not None:
        return bed.limits
    return load_preset(bed.limits_preset or session_type(bed.session_type).preset or DEFAULT_PRESET).to_dict()


def _open_session(store: Store, setup: BedSetup, kind: str, limits_from: datetime, relative_time: bool) -> int:
    session_id = store.sessions.create(
        setup.name, kind, bed=setup.bed, origin=setup.origin, relative_time=relative_time,
        session_type=setup.session_type, patient_label=setup.patient_label, who=setup.operator,
    )
    store.limits.save(session_id, setup.limits.to_dict(), limits_from, who=setup.operator)
    return session_id
