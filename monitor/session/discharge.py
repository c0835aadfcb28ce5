"""The discharge guard and readiness summary behind "end session".

For esketamine the label (SPRAVATO prescribing information and REMS) requires at least 2 h of
observation after the first device: ending earlier, or with an alarm still active, needs an override
with a reason (the caller audits it).
The other items are advice for the clinician, shown with the values they rest on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.session.baseline import Baseline, NibpMeasurement
from monitor.session.types import SessionType

# "Back near baseline": no more than 10 % above the pre-dose mean, or within the label's general
# guide for an acceptable pre-dose BP (140/90 mmHg). A design default, shown with its numbers.
NEAR_BASELINE_FRACTION = 0.10
RECENT_BP = timedelta(minutes=15)  # a BP "prior to session completion" (SPRAVATO REMS monitoring form)


@dataclass(frozen=True)
class ReadinessItem:
    label: str
    ok: bool | None  # None: does not apply / cannot be judged
    detail: str


@dataclass(frozen=True)
class Readiness:
    now: datetime
    elapsed_min: float | None
    earliest: datetime | None  # the first moment the session may end without an override
    active_alarms: tuple[str, ...]
    items: tuple[ReadinessItem, ...]

    @property
    def time_ok(self) -> bool:
        return self.earliest is None or self.now >= self.earliest

    @property
    def needs_override(self) -> bool:
        return not self.time_ok or bool(self.active_alarms)

    @property
    def refusal(self) -> str:
        """Why ending now needs an override; empty when it does not."""
        reasons = []
        if not self.time_ok and self.earliest is not None:
            wait = (self.earliest - self.now).total_seconds() / 60
            reasons.append(f"observation minimum not reached: {self.elapsed_min:.0f} min so far, "
                           f"{wait:.0f} min to go")
        if self.active_alarms:
            reasons.append("active alarm: " + "; ".join(self.active_alarms))
        return "; ".join(reasons)


def _near(latest: NibpMeasurement, base: Baseline, guide: tuple[float, float] | None) -> bool:
    sbp_ok = base.sbp is not None and latest.sbp <= base.sbp * (1 + NEAR_BASELINE_FRACTION)
    dbp_ok = latest.dbp is None or base.dbp is None or latest.dbp <= base.dbp * (1 + NEAR_BASELINE_FRACTION)
    if sbp_ok and dbp_ok:
        return True
    return guide is not None and latest.sbp <= guide[0] and (latest.dbp is None or latest.dbp <= guide[1])


def readiness(stype: SessionType, anchor: datetime | None, measurements: Sequence[NibpMeasurement],
              base: Baseline, active_alarms: Sequence[str], now: datetime) -> Readiness:
    elapsed = None if anchor is None else (now - anchor).total_seconds() / 60
    minimum = stype.min_observation_min
    earliest = None if anchor is None or minimum is None else anchor + timedelta(minutes=minimum)
    items: list[ReadinessItem] = []
    if anchor is None or elapsed is None:
        items.append(ReadinessItem("Observation time", None, "no dose recorded"))
    else:
        target = stype.observation_min
        detail = f"{elapsed:.0f} min since {stype.anchor_label}"
        if target is not None:
            kind = "minimum" if minimum is not None else "planned"
            detail += f" ({kind} {target:g} min)"
        items.append(ReadinessItem("Observation time", None if target is None else elapsed >= target, detail))
    items.append(ReadinessItem("No active alarm", not active_alarms,
                               "none" if not active_alarms else "; ".join(active_alarms)))
    after = [m for m in measurements if m.time <= now and (anchor is None or m.time > anchor)]
    latest = after[-1] if after else None
    if latest is None or base.sbp is None:
        items.append(ReadinessItem("BP back near baseline", None,
                                   "no baseline" if base.sbp is None else "no BP since the dose"))
    else:
        near = _near(latest, base, stype.gate_advisory)
        items.append(ReadinessItem("BP back near baseline", near,
                                   f"latest {latest.text} vs baseline {base.text} mmHg"))
    if stype.gate_advisory is not None:
        recent = latest is not None and now - latest.time <= RECENT_BP
        age = ("no BP since the dose" if latest is None
               else f"last BP {(now - latest.time).total_seconds() / 60:.0f} min ago")
        items.append(ReadinessItem("BP within 15 min before ending", recent, age))
    return Readiness(now, elapsed, earliest, tuple(active_alarms), tuple(items))
