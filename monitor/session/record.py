"""The session record for the chart: everything the report shows, gathered from the store in one place.

It holds only what the monitor sent or a user entered, and what follows from those by arithmetic
(a mean, a count, minutes between two stored times). A field with nothing behind it stays None and
the report says "not recorded" — nothing is estimated or filled in.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.model.reading import Reading
from adapters.model.vitals import VITALS
from monitor.limits.model import Limits, limits_from_stored
from monitor.session.baseline import Baseline, Gate, NibpMeasurement, baseline, gate, nibp_measurements
from monitor.session.limit_lines import LimitLine, dose_baselines, limit_lines
from monitor.session.timeline import CheckpointState, anchor_time, checkpoint_states
from monitor.session.types import SessionType, session_type
from monitor.store import AuditEntry, LimitsVersion, SessionInfo, Store, StoredAlarm, StoredEvent

SUMMARY_VITALS = ("hr", "spo2", "pr", "rr")


@dataclass(frozen=True)
class VitalSummary:
    vital: str
    count: int
    minimum: Reading
    median: float
    maximum: Reading


@dataclass(frozen=True)
class RemsFields:
    """The BP and time fields of the SPRAVATO (esketamine) REMS patient monitoring form."""

    first_device: datetime
    pre_dose: NibpMeasurement | None  # the last measurement before the first device
    at_40: NibpMeasurement | None  # the measurement that satisfied the 40-min checkpoint
    before_end: NibpMeasurement | None  # the last measurement before the session ended
    total_min: float | None  # first device to the end of monitoring
    ready_min: float | None  # "would have been ready to leave" — as entered, never estimated


@dataclass(frozen=True)
class SessionRecord:
    info: SessionInfo
    stype: SessionType
    start: datetime | None  # first reading or event
    end: datetime | None  # "end session", else the last reading or event
    anchor: datetime | None
    readings: list[Reading]
    events: list[StoredEvent]  # in force: what the timeline, baseline and checkpoints count from
    struck: list[StoredEvent]  # entered events corrected or withdrawn since, with who, when and why
    limits: list[LimitsVersion]
    baseline: Baseline
    gate: Gate
    measurements: list[NibpMeasurement]
    summaries: list[VitalSummary]
    alarms: list[StoredAlarm]
    checkpoints: list[CheckpointState]
    audit: list[AuditEntry]
    rems: RemsFields | None

    @property
    def first_limits(self) -> Limits | None:
        return limits_from_stored(self.limits[0].data) if self.limits else None

    @property
    def limit_lines(self) -> list[LimitLine]:
        """Each limits version's lines over the part of the record it was in force."""
        if self.start is None or self.end is None:
            return []
        return limit_lines(self.limits, self.start, self.end, dose_baselines(self.anchor, self.baseline))

    def audited(self, *actions: str) -> list[AuditEntry]:
        return [a for a in self.audit if a.action in actions]

    def elapsed(self, t: datetime) -> timedelta | None:
        """Time since the anchor (negative before it), for "+12 min" columns."""
        return None if self.anchor is None else t - self.anchor


def _summary(vital: str, readings: list[Reading]) -> VitalSummary | None:
    own = [r for r in readings if r.vital == vital]
    if not own:
        return None
    return VitalSummary(vital, len(own), min(own, key=lambda r: r.value), statistics.median(r.value for r in own),
                        max(own, key=lambda r: r.value))


def _rems(stype: SessionType, anchor: datetime | None, end: datetime | None, ended: bool,
          measurements: list[NibpMeasurement], states: list[CheckpointState], ready_min: float | None
          ) -> RemsFields | None:
    if stype.name != "esketamine" or anchor is None:
        return None
    before = [m for m in measurements if m.time <= anchor]
    at_40 = next((s for s in states if s.checkpoint.key == "bp-40"), None)
    done = None if at_40 is None else at_40.done_at
    before_end = [m for m in measurements if ended and end is not None and anchor < m.time <= end]
    return RemsFields(
        first_device=anchor,
        pre_dose=before[-1] if before else None,
        at_40=next((m for m in measurements if m.time == done), None),
        before_end=before_end[-1] if before_end else None,
        total_min=(end - anchor).total_seconds() / 60 if ended and end is not None else None,
        ready_min=ready_min,
    )


def session_record(store: Store, session_id: int) -> SessionRecord:
    """Gather the record of one session; an ended session's record stops at its end."""
    info = store.sessions.info(session_id)
    stype = session_type(info.session_type)
    cutoff = info.ended
    readings = store.samples.readings(session_id, None, cutoff)
    everything = [s for s in store.samples.events_with_authors(session_id, struck=True)
                  if cutoff is None or s.event.time <= cutoff]
    events = [s for s in everything if s.struck is None]
    times = [r.time for r in readings] + [s.event.time for s in events]
    start = min(times, default=None)
    end = cutoff if cutoff is not None else max(times, default=None)
    anchor = anchor_time(s.event for s in events)
    measurements = nibp_measurements(readings)
    base = baseline(measurements, anchor, end)
    states = [] if end is None else checkpoint_states(stype, anchor, [m.time for m in measurements],
                                                      [s.event for s in events], end)
    alarms = [a for a in store.alarms.since(session_id) if cutoff is None or a.episode.announced <= cutoff]
    alarms.sort(key=lambda a: (a.episode.announced, a.id))
    summaries = [s for s in (_summary(v, readings) for v in SUMMARY_VITALS if v in VITALS) if s is not None]
    return SessionRecord(
        info=info, stype=stype, start=start, end=end, anchor=anchor, readings=readings, events=events,
        struck=[s for s in everything if s.struck is not None],
        limits=store.limits.versions(session_id), baseline=base, gate=gate(stype, base), measurements=measurements,
        summaries=summaries, alarms=alarms, checkpoints=states, audit=store.audit.entries(session_id=session_id),
        rems=_rems(stype, anchor, end, cutoff is not None, measurements, states, info.ready_min),
    )

