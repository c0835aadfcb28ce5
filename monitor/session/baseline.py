"""The pre-dose baseline, computed here once for the alarms and the session, and the advisory BP gate.

The rules are docs/limits.md's "Rise above baseline": the mean of a vital's readings from 15 minutes
before the first dose event up to it (`pre_dose_window`); without a dose, the first two NIBP readings or
the first minute of a continuous vital. The alarm engine follows them causally per vital
(`RiseBaseline`); the Session tab, the gate and the session record take the same window over the NIBP
measurements (`baseline`), so the number the nurse sees is the number the alarms compare against.
The gate (above the session type's `gate_advisory` BP) never blocks: it tells the clinician that dosing
now needs an explicit "proceed" with a reason, which the caller records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from adapters.model.reading import Reading
from adapters.model.vitals import VITALS
from monitor.session.types import SessionType

BASELINE_WINDOW = timedelta(minutes=15)  # before the first dose event
FIRST_MINUTE = timedelta(seconds=60)  # continuous baseline without a dose event
MIN_BASELINE_READINGS = 2


class _Timed(Protocol):
    @property
    def time(self) -> datetime: ...


TimedT = TypeVar("TimedT", bound=_Timed)


def pre_dose_window(items: Iterable[TimedT], end: datetime) -> tuple[TimedT, ...]:
    """The items of the baseline window closing at `end` (the dose; before it, "now"): the 15 minutes
    up to and including `end`."""
    return tuple(i for i in items if end - BASELINE_WINDOW <= i.time <= end)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class RiseBaseline:
    """One vital's baseline for `rise` alarms, built causally from the readings seen so far: it exists only
    from its defining moment on (the dose; the second NIBP reading; the end of the first minute)."""

    def __init__(self, vital: str) -> None:
        self.continuous = VITALS[vital].continuous
        # The readings a dose's window may take, and some older: `_prune` drops those now and then, and before the
        # dose changes, by the rule in force at the latest reading, so the window is as if it dropped them at each.
        self.recent: deque[Reading] = deque()
        self._prune_at = 64  # the length of `recent` at which `observe` next prunes it
        self._open_dose: datetime | None = None  # the dose whose window was open at the latest reading
        self.early: list[float] = []  # fallback: first two NIBP readings, or the first minute
        self.first: datetime | None = None
        self.fallback: float | None = None
        self.dose: datetime | None = None
        self.from_dose: float | None = None
        self.dose_settled = False

    def _prune(self) -> None:
        """Drop the readings before the window of the dose open at the latest reading; without one, those more than
        the window before that reading (so a dose event that arrives late finds no older ones)."""
        if not self.recent:
            return
        keep_from = (self._open_dose or self.recent[-1].time) - BASELINE_WINDOW
        while self.recent and self.recent[0].time < keep_from:
            self.recent.popleft()

    def set_dose(self, dose: datetime) -> None:
        """The session's first dose event, at `dose`; the first reading at or after it fixes the window."""
        self._prune()
        self.dose = dose

    def observe(self, r: Reading) -> None:
        self._open_dose = self.dose if not self.dose_settled else None
        self.recent.append(r)
        if len(self.recent) >= self._prune_at:
            self._prune()
            self._prune_at = 2 * len(self.recent) + 64
        if self.dose is not None and not self.dose_settled and r.time >= self.dose:
            # the first reading at or after the dose fixes the window
            self.from_dose = mean([x.value for x in pre_dose_window(self.recent, self.dose)])
            self.dose_settled = True
        if self.first is None:
            self.first = r.time
        if self.fallback is None:
            if self.continuous:
                if r.time < self.first + FIRST_MINUTE:
                    self.early.append(r.value)
                elif self.early:
                    self.fallback = mean(self.early)
            else:
                self.early.append(r.value)
                if len(self.early) == 2:
                    self.fallback = mean(self.early)

    def move_dose(self, dose: datetime | None, window: Iterable[Reading], now: datetime | None) -> None:
        """The dose event was corrected to `dose` (None: withdrawn). A dose the engine's clock (`now`) has
        passed takes its window from `window` (this vital's stored readings up to it): the recent ones kept
        here may not reach back to it. Readings already judged stay judged."""
        self._prune()
        self.dose = dose
        self.dose_settled = dose is not None and now is not None and dose <= now
        self.from_dose = None
        if dose is not None and self.dose_settled:
            self.from_dose = mean([r.value for r in pre_dose_window(window, dose)])

    def value_at(self, t: datetime, expect_dose: bool) -> float | None:
        """The baseline that applies to a reading at `t` (already observed), or None if none exists yet."""
        if self.dose is not None and t >= self.dose:
            return self.from_dose
        return None if expect_dose else self.fallback


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
    window = () if end is None else pre_dose_window(measurements, end)
    return Baseline(
        measurements=window,
        sbp=mean([m.sbp for m in window]),
        dbp=mean([m.dbp for m in window if m.dbp is not None]),
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
