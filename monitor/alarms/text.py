"""How an alarm reads, on the banner and in the session record alike: parameter, value, the limit broken."""

from __future__ import annotations

from adapters.model.vitals import VITALS
from monitor.alarms.engine import Episode

SHORT = {"sbp": "SYS", "dbp": "DIA", "map": "MAP", "hr": "HR", "pr": "PR", "spo2": "SpO₂", "rr": "RR"}


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def alarm_text(e: Episode) -> str:
    """What the banner says, as a monitor would: the parameter, the value and the limit it broke."""
    if e.kind == "technical":
        if e.vital == "signal":
            return f"Signal loss{f' ({e.source})' if e.source else ''}: no HR/SpO₂ for {e.value:.0f} s"
        if e.direction == "checkpoint":
            late = "" if e.end is None else f", measured {e.value / 60:.0f} min after due"
            return f"{e.source} overdue{late}"
        return f"NIBP overdue: none for {e.value / 60:.0f} min"
    unit = VITALS[e.vital].unit if e.vital in VITALS else ""
    name = SHORT.get(e.vital, e.vital.upper())
    if e.kind == "rise":
        return f"{name} {_num(e.value)} {unit}: rise above baseline limit {_num(e.limit)}"
    sign = ">" if e.direction == "high" else "<"
    return f"{name} {_num(e.value)} {sign} {_num(e.limit)} {unit}"
