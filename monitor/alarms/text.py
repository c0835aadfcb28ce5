"""How an alarm reads, on the banner and in the session record alike: what happened over the whole episode.

An episode is described by its peak (the lowest value for a low alarm) and the limit of its priority, never by
its latest value: a latched critical alarm that has ended must not read "SYS 141 > 160". A rise names its
baseline and the rise configured, not the sum of the two. When it began and when it reached its priority are
times, which each screen or record formats in its own zone (`priority_reached`).
"""

from __future__ import annotations

from datetime import datetime

from adapters.model.vitals import VITALS
from monitor.alarms.engine import Episode

SHORT = {"sbp": "SYS", "dbp": "DIA", "map": "MAP", "hr": "HR", "pr": "PR", "spo2": "SpO₂", "rr": "RR"}
# The limit an episode of this direction and priority broke, as the Limits tab names it.
LIMIT_NAME = {("high", "high"): "critical high", ("high", "medium"): "high",
              ("low", "high"): "critical low", ("low", "medium"): "low"}


def _num(value: float, places: int = 2) -> str:
    return f"{value:.{places}f}".rstrip("0").rstrip(".")


def _technical(e: Episode) -> str:
    if e.vital == "signal":
        return f"Signal loss{f' ({e.source})' if e.source else ''}: no HR/SpO₂ for {e.value:.0f} s"
    if e.direction == "checkpoint":
        late = "" if e.end is None else f", measured {e.value / 60:.0f} min after due"
        return f"{e.source} overdue{late}"
    return f"NIBP overdue: none for {e.value / 60:.0f} min"


def alarm_text(e: Episode) -> str:
    """The parameter, its peak over the episode and the limit of the episode's priority, e.g.
    "SYS peak 197 mmHg > critical high 160", "SYS peak 197 mmHg: +45 over baseline 152 (limit +39)"."""
    if e.kind == "technical":
        return _technical(e)
    unit = VITALS[e.vital].unit if e.vital in VITALS else ""
    name = SHORT.get(e.vital, e.vital.upper())
    extreme = "lowest" if e.direction == "low" else "peak"
    reached = f"{name} {extreme} {_num(e.peak)} {unit}".rstrip()
    if e.kind == "rise":
        if e.baseline is None:  # stored by a Vigil that kept no baseline
            return f"{reached}: rise over baseline, alarm above {_num(e.limit)}"
        baseline = round(e.baseline, 1)  # the rise is counted from the baseline as shown, so the two add up
        return (f"{reached}: +{_num(e.peak - baseline, 1)} over baseline {_num(baseline, 1)} "
                f"(limit +{_num(e.limit - e.baseline, 1)})")
    sign = ">" if e.direction == "high" else "<"
    return f"{reached} {sign} {LIMIT_NAME.get((e.direction, e.priority), 'limit')} {_num(e.limit)}"


def rise_limit_text(e: Episode) -> str:
    """A rise episode's limit as the rise allowed over its baseline, "+39 over 129.8" (never the sum alone)."""
    assert e.baseline is not None
    return f"+{_num(e.limit - e.baseline, 1)} over {_num(round(e.baseline, 1), 1)}"


def peak_text(e: Episode) -> str:
    """The episode's peak (lowest value, for a low alarm) with its unit; a technical alarm's silence in seconds."""
    if e.kind == "technical":
        return f"{e.peak:.0f} s"
    return f"{_num(e.peak)} {VITALS[e.vital].unit if e.vital in VITALS else ''}".rstrip()


def priority_reached(e: Episode) -> datetime | None:
    """When the episode reached its priority, if later than its onset (a high SBP that became critical);
    None if it had that priority from its first reading, or the store does not know."""
    return e.reached if e.reached is not None and e.reached > e.onset else None
