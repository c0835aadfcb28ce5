"""The course of treatment: one line per session of a patient label, so a clinician sees how BP responds over weeks.

Each line holds only stored facts and arithmetic on them (the session record's baseline, the highest
systolic measured after the dose, their difference). Where a fact is missing the field is None and
the page says "not recorded": a course chart with an invented 0 would read as "no rise".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.session.record import SessionRecord, session_record
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


def peak_sbp(record: SessionRecord) -> float | None:
    """The highest systolic measured after the dose: None without a dose or without a measurement after it."""
    anchor, end = record.anchor, record.end
    if anchor is None or end is None:
        return None
    return max((m.sbp for m in record.measurements if anchor < m.time <= end), default=None)


def course(store: Store, patient_label: str) -> list[CourseRow]:
    """Every session of `patient_label`, oldest first (by first reading; sessions without readings by creation)."""
    summaries = sorted(store.list_sessions(patient_label), key=lambda s: (s.first or s.created, s.id))
    return [_row(summary, session_record(store, summary.id)) for summary in summaries]


def _row(summary: SessionSummary, record: SessionRecord) -> CourseRow:
    # Without a dose the record's baseline is just the last 15 min of data, not a pre-dose baseline.
    base = record.baseline.sbp if record.baseline.fixed else None
    peak = peak_sbp(record)
    return CourseRow(
        session_id=summary.id, date=summary.first, session_type=summary.session_type,
        duration=session_duration(summary), alarms=summary.alarms, baseline_sbp=base, peak_sbp=peak,
        peak_rise=None if base is None or peak is None else peak - base,
    )
