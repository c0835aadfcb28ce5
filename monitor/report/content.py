"""What the session record says, section by section, as plain text: the one source of the PDF and the HTML.

Every value comes from the `SessionRecord`; a missing one reads "not recorded" ("not measured" for a
blood pressure, "not set" for a limit nobody configured), never a guess. Session times read as the
session clock does: elapsed HH:MM:SS for a recording with relative times (placed on 1970-01-01 UTC),
otherwise date and time in the zone asked for, named once in the header.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import ClassVar

from reportlab.graphics.shapes import Drawing

from adapters.model.vitals import VITAL_CODES, VITALS
from monitor.alarms.engine import Episode
from monitor.alarms.text import alarm_text, peak_text, priority_reached
from monitor.limits.model import THRESHOLD_KEYS
from monitor.report.trend import GAP_MIN, trend_drawing
from monitor.session.baseline import NibpMeasurement
from monitor.session.record import SUMMARY_VITALS, SessionRecord
from monitor.session.timeline import CheckpointState
from monitor.store import AuditEntry, StoredEvent
from monitor.timeutil import EPOCH

NOT_RECORDED = "not recorded"
NOT_MEASURED = "not measured"
NOT_SET = "not set"
NOT_ENDED = "session not ended"
DISCLAIMER = "Decision support only — not a medical device."
ALWAYS_SUMMARISED = ("hr", "spo2")  # the REMS form's oximetry and the heart rate: listed even when absent
# `Store.limits.save` audits a session's first limits version as one entry with this target; later
# versions get one entry per changed key ("vitals.sbp.high"), which is what "later changes" lists.
FIRST_LIMITS_TARGET = "limits"
LIMIT_KEYS = (*THRESHOLD_KEYS, "rise", "delay_s")


@dataclass(frozen=True)
class Fields:
    """Label and value, one pair a line."""

    kind: ClassVar[str] = "fields"
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    kind: ClassVar[str] = "table"
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    empty: str = "none recorded"  # said instead of an empty table


@dataclass(frozen=True)
class Text:
    kind: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True)
class Figure:
    kind: ClassVar[str] = "figure"
    drawing: Drawing
    caption: str


Block = Fields | Table | Text | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    zone_note: str
    sections: tuple[Section, ...]
    footer: str


def num(value: float | None, missing: str = NOT_RECORDED) -> str:
    """72, 97.5, 36.25: as measured, without trailing zeros."""
    return missing if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def elapsed(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    return f"{'-' if seconds < 0 else ''}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


class Clock:
    """How times read in this record: session times, wall-clock times and minutes from time zero."""

    def __init__(self, record: SessionRecord, tz: tzinfo) -> None:
        self.record = record
        self.tz = tz
        self.relative = record.info.relative_time

    def wall(self, t: datetime | None) -> str:
        """A real clock time (an acknowledgement, the report's own time): always date and time in the zone."""
        return NOT_RECORDED if t is None else t.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def session(self, t: datetime | None) -> str:
        if t is None:
            return NOT_RECORDED
        return elapsed(t - EPOCH) if self.relative else self.wall(t)

    def minutes(self, t: datetime | None) -> str:
        since = None if t is None else self.record.elapsed(t)
        return NOT_RECORDED if since is None else f"{since.total_seconds() / 60:+.1f}"

    def when(self, entry: AuditEntry) -> str:
        """An audited action on the session clock; on the wall clock if it has no session time."""
        return self.session(entry.session_time) if entry.session_time is not None else self.wall(entry.at)

    def zone(self, times: Iterable[datetime]) -> str:
        """The zone's name(s) over these times (two across a daylight-saving change)."""
        return "/".join(dict.fromkeys(self._zone_name(t.astimezone(self.tz)) for t in times))

    @staticmethod
    def _zone_name(local: datetime) -> str:
        return local.tzname() or local.strftime("UTC%z")

    @property
    def minutes_head(self) -> str:
        return f"min from {self.record.stype.anchor_label}"


def _bp(m: NibpMeasurement | None, c: Clock) -> str:
    if m is None:
        return NOT_MEASURED
    return f"{m.text} mmHg at {c.session(m.time)} ({c.minutes(m.time)} min)"


def _nibp_table(measurements: Iterable[NibpMeasurement], c: Clock, title: str = "") -> Table:
    rows = tuple((c.session(m.time), c.minutes(m.time), num(m.sbp), num(m.dbp, NOT_MEASURED),
                  num(m.map, NOT_MEASURED)) for m in measurements)
    return Table(("Time", c.minutes_head, "SYS (mmHg)", "DIA (mmHg)", "MAP (mmHg)"), rows, title)


def _audit_table(entries: Iterable[AuditEntry], c: Clock, title: str, what: str) -> Table:
    return Table(("When", "Who", what), tuple((c.when(a), a.who, a.new) for a in entries), title, empty="none")


def _identifiers(r: SessionRecord, c: Clock) -> Section:
    info = r.info
    rows = [
        ("Session id", str(info.id)),
        ("Name", info.name or NOT_RECORDED),
        ("Bed", info.bed or NOT_RECORDED),
        ("Session type", r.stype.label),
        ("Patient label", info.patient_label or NOT_RECORDED),
        ("Origin", f"{info.kind}: {info.origin}" if info.origin else info.kind),
        ("Start of record", c.session(r.start)),
        ("End of record", c.session(r.end)),
        (f"Time zero ({r.stype.anchor_label})", c.session(r.anchor)),
        ("Set up by", info.setup_by or NOT_RECORDED),
    ]
    if info.ended is None:
        rows.append(("Ended", NOT_ENDED))
    else:
        rows += [("Ended by", info.ended_by or NOT_RECORDED), ("Ended at", c.session(info.ended))]
    return Section("Session", (Fields(tuple(rows)),))


def _limits(r: SessionRecord, c: Clock) -> Section:
    first = r.first_limits
    if first is None:
        return Section("Limits used", (Text(f"Alarm limits: {NOT_RECORDED}."),))
    v1 = r.limits[0]
    preset = f" (preset {first.preset})" if first.preset else ""
    by_vital = tuple(
        (VITALS[code].label, *(num(getattr(first.for_vital(code), key), NOT_SET) for key in LIMIT_KEYS))
        for code in VITAL_CODES if code in first.vitals
    )
    technical = [("Signal loss alarm after (s)", num(first.technical.signal_loss_s, NOT_SET)),
                 ("NIBP overdue alarm after (s)", num(first.technical.nibp_overdue_s, NOT_SET))]
    technical += [(f"Fixed baseline, {VITALS[code].label}", num(value)) for code, value in first.baseline.items()]
    changes = tuple((c.when(a), a.who, a.target, f"{a.old or NOT_SET} → {a.new or NOT_SET}")
                    for a in r.audited("limits") if a.target != FIRST_LIMITS_TARGET)
    return Section("Limits used", (
        Text(f"Version {v1.version}{preset}, set by {v1.who}, in force from {c.session(v1.effective)}."),
        Table(("Vital", "critical low", "low", "high", "critical high", "rise", "delay (s)"), by_vital),
        Fields(tuple(technical)),
        Table(("When", "Who", "Setting", "Old → new"), changes, "Later changes", empty="none"),
    ))


def _baseline(r: SessionRecord, c: Clock) -> Section:
    base = r.baseline
    blocks: list[Block] = []
    if base.fixed:
        window = "Measurements in the 15 min before the dose"
    else:
        blocks.append(Text("No dose event recorded: there is no pre-dose baseline."))
        window = "Measurements in the 15 min before the end of the record"
    blocks += [
        _nibp_table(base.measurements, c, window),
        Fields((("Mean (SYS/DIA)", NOT_MEASURED if base.sbp is None else f"{base.text} mmHg"),
                ("BP gate", "; ".join(r.gate.findings) or "no finding"))),
        _audit_table(r.audited("gate_proceed"), c, "Proceeded past the BP gate", "Reason"),
    ]
    return Section("Baseline (pre-dose)", tuple(blocks))


def _summaries(r: SessionRecord, c: Clock) -> Section:
    by_vital = {s.vital: s for s in r.summaries}
    rows = []
    for code in SUMMARY_VITALS:
        name = f"{VITALS[code].label}, {VITALS[code].unit}"
        s = by_vital.get(code)
        if s is not None:
            rows.append((name, str(s.count), f"{num(s.minimum.value)} at {c.session(s.minimum.time)}",
                         num(s.median), f"{num(s.maximum.value)} at {c.session(s.maximum.time)}"))
        elif code in ALWAYS_SUMMARISED:
            rows.append((name, "0", NOT_RECORDED, NOT_RECORDED, NOT_RECORDED))
    return Section("Continuous vitals", (Table(("Vital", "Readings", "Minimum", "Median", "Maximum"), tuple(rows)),))


def _trend(r: SessionRecord) -> Section:
    caption = (f"Continuous vitals are drawn through the lowest and highest reading of each horizontal point, "
               f"and left open where no reading came for over {GAP_MIN * 60:g} s. Dotted lines: dose events. "
               "Limit lines: each limits version over the time it was in force (listed under Limits used); a rise "
               "limit from when its baseline was known.")
    return Section("Trend", (Figure(trend_drawing(r), caption),))


def _status(r: SessionRecord, s: CheckpointState) -> str:
    """An optional checkpoint never reached by an ended session was not used (device 3 of a 56 mg dose)."""
    if r.info.ended is not None and s.checkpoint.optional and s.done_at is None:
        return "not used"
    return s.status


def _checkpoints(r: SessionRecord, c: Clock) -> Section:
    rows = tuple((s.checkpoint.label, f"{s.checkpoint.at_min:g}", c.session(s.due), _status(r, s),
                  c.session(s.done_at)) for s in r.checkpoints)
    return Section("Checkpoints", (Table(("Checkpoint", c.minutes_head, "Due", "Status", "Done at"), rows),))


def _alarm_cell(e: Episode, c: Clock) -> str:
    """What happened, and when the episode reached its priority if not at onset."""
    reached = priority_reached(e)
    return alarm_text(e) if reached is None else f"{alarm_text(e)}; {e.priority} priority from {c.session(reached)}"


def _alarms(r: SessionRecord, c: Clock) -> Section:
    rows = tuple((c.session(a.episode.announced), a.episode.priority, _alarm_cell(a.episode, c), peak_text(a.episode),
                  c.session(a.episode.end), a.acked_by or NOT_RECORDED, c.wall(a.acked_at)) for a in r.alarms)
    head = ("Announced", "Priority", "Alarm", "Peak", "End", "Acknowledged by", "Acknowledged at")
    return Section("Alarms", (Table(head, rows),))


def _amendments(r: SessionRecord, c: Clock, by_original: dict[int, StoredEvent]) -> Table:
    """Who struck which entered event, when (wall clock), from what time to what, and why."""
    rows = []
    for s in r.struck:
        assert s.struck is not None
        correction = by_original.get(s.id)
        new = "withdrawn" if correction is None else c.session(correction.event.time)
        rows.append((c.wall(s.struck.at), s.struck.by, s.event.kind, f"{c.session(s.event.time)} → {new}",
                     s.struck.reason))
    return Table(("When", "Who", "Event", "Old → new", "Reason"), tuple(sorted(rows)), "Corrected or withdrawn")


def _events(r: SessionRecord, c: Clock) -> Section:
    """Every event; once one was corrected or withdrawn, the struck entries too, marked, and the amendments
    (a correction's own text is its reason)."""
    head: tuple[str, ...] = ("Time", c.minutes_head, "Kind", "Text", "Entered by")
    if not r.struck:
        plain = tuple((c.session(s.event.time), c.minutes(s.event.time), s.event.kind, s.event.text,
                       s.entered_by or "monitor/file") for s in r.events)
        return Section("Events and notes", (Table(head, plain),))
    by_original = {s.corrects: s for s in (*r.events, *r.struck) if s.corrects is not None}

    def status(s: StoredEvent) -> str:
        if s.struck is not None:
            return "struck: corrected" if s.id in by_original else "struck: withdrawn"
        return "correction" if s.corrects is not None else "in force"

    everything = sorted((*r.events, *r.struck), key=lambda s: (s.event.time, s.id))
    rows = tuple((c.session(s.event.time), c.minutes(s.event.time), s.event.kind, s.event.text,
                  s.entered_by or "monitor/file", status(s)) for s in everything)
    return Section("Events and notes", (Table((*head, "Status"), rows), _amendments(r, c, by_original)))


def _rems(r: SessionRecord, c: Clock) -> Section | None:
    f = r.rems
    if f is None:
        return None
    return Section("REMS patient monitoring form", (Fields((
        ("First device administered", c.session(f.first_device)),
        ("BP prior to administration", _bp(f.pre_dose, c)),
        ("BP 40 min post-administration", _bp(f.at_40, c)),
        ("BP prior to treatment session completion", _bp(f.before_end, c)),
        ("Total minutes from first device to completion of monitoring", num(f.total_min)),
        ("Would have been ready to leave at (min from first device)", num(f.ready_min)),
    )),))


def _discharge(r: SessionRecord, c: Clock) -> Section:
    ended = NOT_ENDED if r.info.ended is None else c.session(r.info.ended)
    return Section("Discharge", (
        Fields((("Ended", ended),)),
        _audit_table(r.audited("discharge_override"), c, "Ended despite the discharge guard", "Reason"),
    ))


def report_content(record: SessionRecord, tz: tzinfo, generated: datetime | None = None) -> Report:
    """The record's sections in the order the chart reads them."""
    c = Clock(record, tz)
    now = generated or datetime.now(UTC)
    if record.info.relative_time:
        zone_note = ("Session times are elapsed time from the start of the recording (HH:MM:SS); "
                     f"clock times (acknowledgements, generated) are {c.zone([now])}.")
    else:
        zone_note = f"Times are {c.zone(t for t in (record.start, record.end, now) if t is not None)}."
    sections = [
        _identifiers(record, c), _limits(record, c), _baseline(record, c),
        Section("NIBP measurements", (_nibp_table(record.measurements, c),)),
        _summaries(record, c), _trend(record), _checkpoints(record, c), _alarms(record, c), _events(record, c),
        _rems(record, c), _discharge(record, c),
    ]
    info = record.info
    return Report(
        title=f"Vigil session record — session {info.id}",
        subtitle=" · ".join((info.patient_label or f"patient {NOT_RECORDED}", info.bed, record.stype.label)),
        zone_note=zone_note,
        sections=tuple(s for s in sections if s is not None),
        footer=f"{DISCLAIMER} Generated {c.wall(now)} by Vigil.",
    )
