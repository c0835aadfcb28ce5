"""The one table every decoder, reader and the store map vital signs through.

Codes and units are fixed: they are the CSV's column names and units (docs/csv-format.md). Each vital
carries its plausible range (a value outside it is a bad reading, not an alarm), whether it is measured
continuously or intermittently (NIBP), and the IEEE 11073 MDC code where one exists so protocol decoders
look vitals up by code instead of keeping their own whitelists.
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
    mdc_aliases: tuple[int, ...] = ()  # further MDC codes that measure the same quantity

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
        # MDC_PULS_OXIM_PULS_RATE; alias the pleth pulse rate Philips reports (NOM_PLETH_PULS_RATE 0x4822).
        Vital("pr", "Pulse rate (SpO2)", "bpm", 0, 350, True, 149530, (149538,)),
        Vital("spo2", "SpO2", "%", 0, 100, True, 150456),
        # MDC_RESP_RATE (Philips NOM_RESP_RATE 0x500A); alias MDC_AWAY_RESP_RATE (airway, 0x5012).
        Vital("rr", "Respiratory rate", "breaths/min", 0, 150, True, 151562, (151570,)),
    )
}

VITAL_CODES: tuple[str, ...] = tuple(VITALS)
NIBP_CODES: tuple[str, ...] = ("sbp", "dbp", "map")
BY_MDC: dict[int, Vital] = {
    code: v for v in VITALS.values() for code in ((v.mdc,) if v.mdc is not None else ()) + v.mdc_aliases
}
