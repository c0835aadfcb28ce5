"""The tabular trend: one row per NIBP cycle with the HR and SpO₂ at its time, newest first — what a nurse
charts from. The server reads it from the store while its tab is open, again whenever the session's facts change
(the stream re-sends them with each new systolic), so it follows the stream. It is not part of those facts: they
are built on the stream's path, where reading the HR and SpO₂ around every cycle of a long session would delay
the readings of that message."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

import dash_ag_grid as dag
from dash import Dash, Input, Output, no_update

from adapters.model.reading import Reading
from adapters.model.vitals import NIBP_CODES
from monitor.auth.roles import Permission
from monitor.session.baseline import NibpMeasurement, nibp_measurements
from monitor.store import Store
from monitor.web.auth import require
from monitor.web.bed import ids
from monitor.web.bed.figures import display_ms
from monitor.web.bed.shown import SHOWN, shown_session
from monitor.web.grids import paged_grid

TAB = "table"  # its value among the bed view's panels
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


def paired_readings(store: Store, session_id: int, measurements: Sequence[NibpMeasurement]) -> list[Reading]:
    """The HR and SpO₂ readings within NEAR of any of the measurements, by time: a few per cuff cycle, read by
    time (indexed) rather than the whole session's seconds, as this runs with every new systolic on every tab."""
    near = {r for m in measurements for r in store.samples.readings(session_id, m.time - NEAR, m.time + NEAR)
            if r.vital in PAIRED}
    return sorted(near, key=lambda r: r.time)


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
    """The "Vitals table" tab; its rows come from `register_table_callback`."""
    return paged_grid(ids.VITALS_TABLE, COLUMNS, [])


def register_table_callback(app: Dash, store: Store, tz: tzinfo) -> None:
    """The table's rows when its tab is opened and whenever the session's facts change while it is open."""
    @app.callback(
        Output(ids.VITALS_TABLE, "rowData"),
        Input(ids.PANELS, "value"), Input(ids.SESSION_STATE, "data"),
        SHOWN,
    )
    @require(Permission.VIEW)
    def vitals_rows(panel: str, _session: dict, shown: int) -> list[dict] | object:
        if panel != TAB:
            return no_update
        session_id = shown_session(store, shown)
        measurements = nibp_measurements(store.samples.readings_of(session_id, NIBP_CODES))
        return table_rows(measurements, paired_readings(store, session_id, measurements), tz)
