"""The course of treatment: one line per session of a patient label, so a clinician sees how BP responds over weeks.

Each line holds only stored facts and arithmetic on them (the pre-dose baseline as the session record
computes it, the highest systolic measured after the dose, their difference). Where a fact is
missing the field is None and the page says "not recorded": a course chart with an invented 0 would read as "no rise".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.model.vitals import NIBP_CODES
from monitor.session.baseline import baseline, nibp_measurements
from monitor.session.timeline import anchor_time
from monitor.store import SessionSummary, Store


@dataclass(frozen=True)
class CourseRow:
    session_id: int
    date: datetime | None  # first reading
    session_type: str  # the type's name, e.g. "esketamine"
    duration: timedelta | None  # first reading to the end of the session (or its last reading)
    alarms: int
    baseline_sbp: float | None  # mean pre-dose systolic (the record's baseline); None without a dose
    peak_sbp: float | None  # highest systolic measured after the anchor, up to the session's end
    peak_rise: float | None  # peak_sbp - baseline_sbp


def session_duration(summary: SessionSummary) -> timedelta | None:
    """First reading to "end session" (or, while open or never ended, to the last reading)."""
    end = summary.ended or summary.last
    return None if summary.first is None or end is None else end - summary.first


def _rise(store: Store, summary: SessionSummary) -> tuple[float | None, float | None]:
    """(baseline SBP, peak SBP after the dose) from the session's NIBP and events only: a course of many
    long sessions must not load every heart-rate reading. None where there is no dose or no measurement."""
    end = summary.ended
    events = [e for e in store.samples.events(summary.id) if end is None or e.time <= end]
    anchor = anchor_time(events)
    if anchor is None:
        return None, None  # without a dose there is no pre-dose baseline, only the latest readings
    measurements = [m for m in nibp_measurements(store.samples.readings_of(summary.id, NIBP_CODES))
                    if end is None or m.time <= end]
    peak = max((m.sbp for m in measurements if m.time > anchor), default=None)
    return baseline(measurements, anchor, anchor).sbp, peak


def course(store: Store, patient_label: str) -> list[CourseRow]:
    """Every session of `patient_label`, oldest first (by first reading; sessions without readings by creation)."""
    summaries = sorted(store.sessions.listing(patient_label), key=lambda s: (s.first or s.created, s.id))
    rows = []
    for summary in summaries:
        base, peak = _rise(store, summary)
        rows.append(CourseRow(
            session_id=summary.id, date=summary.first, session_type=summary.session_type,
            duration=session_duration(summary), alarms=summary.alarms, baseline_sbp=base, peak_sbp=peak,
            peak_rise=None if base is None or peak is None else peak - base,
        ))
    return rows
