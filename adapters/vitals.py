"""The one table every decoder, reader and the store map vital signs through.

Codes and units are fixed by the architecture (§2). Each vital carries its plausible range (a value
outside it is a bad reading, not an alarm), whether it is measured continuously or intermittently
(NIBP), and the IEEE 11073 MDC code where one exists so protocol decoders look vitals up by code
instead of keeping their own whitelists.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vital:
    code: str
    label: str
    unit: str
    low: float
    high: float
    continuous: bool
    mdc: int | None

    def plausible(self, value: float) -> bool:
        """True when the value lies in the inclusive plausible range."""
        return self.low <= value <= self.high


VITALS: dict[str, Vital] = {
    v.code: v
    for v in (
        Vital("sbp", "NIBP systolic", "mmHg", 10, 350, False, 150021),
        Vital("dbp", "NIBP diastolic", "mmHg", 5, 300, False, 150022),
        Vital("map", "NIBP mean", "mmHg", 5, 320, False, 150023),
        Vital("hr", "Heart rate (ECG)", "bpm", 0, 350, True, 147842),
        Vital("pr", "Pulse rate (SpO2)", "bpm", 0, 350, True, 149530),
        Vital("spo2", "SpO2", "%", 0, 100, True, 150456),
        Vital("rr", "Respiratory rate", "breaths/min", 0, 150, True, None),
    )
}

VITAL_CODES: tuple[str, ...] = tuple(VITALS)
NIBP_CODES: tuple[str, ...] = ("sbp", "dbp", "map")
BY_MDC: dict[int, Vital] = {v.mdc: v for v in VITALS.values() if v.mdc is not None}
