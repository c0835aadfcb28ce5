"""The tabular trend: one row per NIBP cycle with the HR and SpO₂ at its time, newest first — what a nurse
charts from. It rides the session's facts (`session_payload`, re-sent with each new systolic), so it follows the
stream on every open tab."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

import dash_ag_grid as dag

from adapters.model.reading import Reading
from monitor.session.baseline import NibpMeasurement
from monitor.web.bed import ids
from monitor.web.bed.figures import display_ms
from monitor.web.grids import paged_grid

NEAR = timedelta(seconds=30)  # an HR or SpO₂ further than this from the cuff cycle is not "at that time"
PAIRED = ("hr", "spo2")  # the continuous vitals charted beside each NIBP

COLUMNS = [
    {"field": "time", "headerName": "Time", "width": 100},
    *({"field": key, "headerName": name, "type": "numericColumn", "width": 80}
      for key, name in (("sbp", "SYS"), ("dbp", "DIA"), ("map", "MAP"), ("hr", "HR"), ("spo2", "SpO₂"))),
]


def nearest(times: Sequence[datetime], values: Sequence[float], t: datetime) -> float | None:
    """The value whose time (`times`, sorted) is nearest `t`, if within NEAR; the earlier one on a tie."""
    i = bisect_left(times, t)
    candidates = [j for j in (i - 1, i) if 0 <= j < len(times) and abs(times[j] - t) <= NEAR]
    if not candidates:
        return None
    return values[min(candidates, key=lambda j: abs(times[j] - t))]


def table_rows(measurements: Sequence[NibpMeasurement], continuous: Sequence[Reading], tz: tzinfo) -> list[dict]:
    """The table's rows, newest first; `continuous`: the session's HR and SpO₂ readings by time. A value not
    measured is left blank, never borrowed from further away."""
    of = {vital: [r for r in continuous if r.vital == vital] for vital in PAIRED}
    series = {vital: ([r.time for r in rs], [r.value for r in rs]) for vital, rs in of.items()}
    return [
        {"id": display_ms(m.time, tz), "time": m.time.astimezone(tz).strftime("%H:%M:%S"),
         "sbp": m.sbp, "dbp": m.dbp, "map": m.map,
         **{vital: nearest(*series[vital], m.time) for vital in PAIRED}}
        for m in reversed(measurements)
    ]


def vitals_grid() -> dag.AgGrid:
    """The "Vitals table" tab; its rows come with the session's facts (assets: `session-state` → rowData)."""
    return paged_grid(ids.VITALS_TABLE, COLUMNS, [])
