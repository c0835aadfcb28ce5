"""Pre-dose baseline and the advisory BP gate (research clinical.md §7a, §7b).

The baseline is the mean of the NIBP measurements in the 15 minutes before the dose — the same
window the alarm engine uses for `rise` alarms (architecture §5), so the number the nurse sees is
the number the alarms compare against. The gate never blocks: it tells the clinician that dosing
now needs an explicit "proceed" with a reason, which the caller records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.model.reading import Reading
from monitor.alarms.engine import BASELINE_WINDOW
from monitor.session.types import SessionType

MIN_BASELINE_READINGS = 2


@dataclass(frozen=True)
class NibpMeasurement:
    """One cuff measurement: the systolic, diastolic and mean values reported at one time."""

    time: datetime
    sbp: float
    dbp: float | None = None
    map: float | None = None

    @property
    def text(self) -> str:
        return f"{self.sbp:g}/{self.dbp:g}" if self.dbp is not None else f"{self.sbp:g}/–"


def nibp_measurements(readings: Iterable[Reading]) -> list[NibpMeasurement]:
    """Group NIBP readings by time into measurements, in time order; a time without a systolic is skipped."""
    by_time: dict[datetime, dict[str, float]] = {}
    for r in readings:
        if r.vital in ("sbp", "dbp", "map"):
            by_time.setdefault(r.time, {})[r.vital] = r.value
    return [
        NibpMeasurement(t, v["sbp"], v.get("dbp"), v.get("map"))
        for t, v in sorted(by_time.items())
        if "sbp" in v
    ]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Baseline:
    measurements: tuple[NibpMeasurement, ...]
    sbp: float | None
    dbp: float | None
    fixed: bool  # True once the dose has been given: the window is closed

    @property
    def complete(self) -> bool:
        return len(self.measurements) >= MIN_BASELINE_READINGS

    @property
    def text(self) -> str:
        if self.sbp is None:
            return "none"
        dbp = "–" if self.dbp is None else f"{self.dbp:.0f}"
        return f"{self.sbp:.0f}/{dbp}"


def baseline(measurements: Sequence[NibpMeasurement], anchor: datetime | None, now: datetime | None) -> Baseline:
    """The measurements of the 15 min up to the dose (or, before it, up to now) and their means; with
    neither a dose nor a "now" (a session with no data yet) there is none."""
    end = anchor if anchor is not None else now
    window = () if end is None else tuple(m for m in measurements if end - BASELINE_WINDOW <= m.time <= end)
    return Baseline(
        measurements=window,
        sbp=_mean([m.sbp for m in window]),
        dbp=_mean([m.dbp for m in window if m.dbp is not None]),
        fixed=anchor is not None,
    )


@dataclass(frozen=True)
class Gate:
    """The pre-dose advisory: `findings` say why dosing needs a "proceed" with a reason."""

    level: str  # ok | advisory | severe
    findings: tuple[str, ...]

    @property
    def needs_proceed(self) -> bool:
        return bool(self.findings)


def gate(stype: SessionType, base: Baseline) -> Gate:
    if stype.gate_advisory is None:
        return Gate("ok", ())
    findings: list[str] = []
    level = "ok"
    if not base.complete:
        findings.append(f"baseline incomplete: {len(base.measurements)} of {MIN_BASELINE_READINGS} NIBP readings "
                        "in the last 15 min")
        level = "advisory"
    sbp, dbp = base.sbp, base.dbp
    severe_s, severe_d = stype.gate_severe or (float("inf"), float("inf"))
    adv_s, adv_d = stype.gate_advisory
    if (sbp is not None and sbp >= severe_s) or (dbp is not None and dbp >= severe_d):
        findings.append(f"baseline BP {base.text} is at or above {severe_s:g}/{severe_d:g} mmHg")
        level = "severe"
    elif (sbp is not None and sbp > adv_s) or (dbp is not None and dbp > adv_d):
        findings.append(f"baseline BP {base.text} is above {adv_s:g}/{adv_d:g} mmHg")
        level = "advisory"
    return Gate(level, tuple(findings))
