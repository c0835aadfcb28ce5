"""Alarms on the bed view: the banner and its controls, the history and audit grids, and the wire format.

Alarm state lives in the store (the engine writes it, acknowledgements update it); the browser gets
each change over the stream as `alarm_payload` and decides locally what flashes, what sounds and
what the banner lists (assets/vigil_alarms.js), so every open tab agrees with the store.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import html

from monitor.alarms.text import alarm_text
from monitor.store import AuditEntry, StoredAlarm
from monitor.web.auth import refuse_request
from monitor.web.bed.figures import display_ms

AUDIO_PAUSE_S = 120  # IEC 60601-1-8 / Dräger: audio paused for at most 2 min (research §3.4)
REMINDER_S = 180  # re-announce an acknowledged alarm that is still present (Philips: 2–3 min)
# The numeric tiles an alarm colours; a signal loss greys HR, SpO2 and PR alike, NIBP overdue the NIBP tile.
TILES_OF = {"sbp": ["bp"], "dbp": ["bp"], "map": ["bp"], "nibp": ["bp"], "hr": ["hr"], "spo2": ["spo2"],
            "pr": ["pr"], "rr": ["rr"], "signal": ["hr", "spo2", "pr"]}
def alarm_payload(stored: StoredAlarm, tz: tzinfo) -> dict:
    """One alarm as the browser receives it (times in display ms, like readings)."""
    e = stored.episode
    return {
        "id": stored.id,
        "rev": stored.rev,
        "vital": e.vital,
        "tiles": TILES_OF.get(e.vital, []),
        "kind": e.kind,
        "dir": e.direction,
        "pri": e.priority,
        "onset": display_ms(e.onset, tz),
        "ann": display_ms(e.announced, tz),
        "end": None if e.end is None else display_ms(e.end, tz),
        "peak": e.peak,
        "limit": e.limit,
        "value": e.value,
        "text": alarm_text(e),
        "acked": stored.acked_at is not None,
        "ackBy": stored.acked_by,
        "ackAt": None if stored.acked_at is None else _wall(stored.acked_at),
    }


def _wall(t: datetime) -> str:
    """An acknowledgement's wall-clock time, in this machine's zone (it is a real-world act)."""
    return t.astimezone().strftime("%H:%M:%S")


def audit_rows(entries: list[AuditEntry], tz: tzinfo) -> list[dict]:
    return [
        {
            "id": a.id,
            "at": a.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            "session": "" if a.session_time is None else a.session_time.astimezone(tz).strftime("%H:%M:%S"),
            "who": a.who,
            "action": a.action,
            "target": a.target,
            "old": a.old,
            "new": a.new,
        }
        for a in reversed(entries)  # newest first
    ]


def alarm_bar() -> html.Div:
    """Banner of active alarms (filled in the browser) and the nurse's controls beside it."""
    return html.Div(
        id="alarm-bar",
        className="alarm-bar alarm-none",
        children=[
            html.Div(id="alarm-banner", className="alarm-banner", children="No active alarms"),
            html.Div(className="alarm-controls", children=[
                dmc.Button("Acknowledge", id="ack-button", color="gray", size="md", n_clicks=0,
                           className="needs-acknowledge"),
                dmc.Button(f"Audio pause {AUDIO_PAUSE_S // 60} min", id="audio-pause", color="gray", size="md",
                           n_clicks=0),
                dmc.Button("Sound off — click to enable", id="sound-toggle", color="red", size="md", n_clicks=0,
                           className="sound-off"),
            ]),
        ],
    )


# AG Grid's theming API (the legacy `ag-theme-*-dark` classes need CSS from a CDN, which a ward PC may not reach).
# Only the four base themes are in scope for dash-ag-grid's function strings, so the dark scheme is set by colours.
DARK_GRID = {"function": "themeAlpine.withParams({backgroundColor: '#111111', foregroundColor: '#e0e0e0', "
                         "browserColorScheme: 'dark', accentColor: '#64b5f6'})"}

ALARM_COLUMNS = [
    {"field": "announcedText", "headerName": "Announced", "width": 110},
    {"field": "priority", "headerName": "Priority", "width": 100},
    {"field": "text", "headerName": "Alarm", "flex": 2},
    {"field": "peakText", "headerName": "Peak", "width": 90},
    {"field": "endText", "headerName": "Ended", "width": 110},
    {"field": "ackText", "headerName": "Acknowledged", "flex": 1},
]

AUDIT_COLUMNS = [
    {"field": "at", "headerName": "When", "width": 170},
    {"field": "session", "headerName": "Session time", "width": 120},
    {"field": "who", "headerName": "Who", "width": 120},
    {"field": "action", "headerName": "Action", "width": 120},
    {"field": "target", "headerName": "What", "flex": 1},
    {"field": "old", "headerName": "Old", "flex": 1},
    {"field": "new", "headerName": "New", "flex": 1},
]


def dark_grid(grid_id: str, columns: list[dict], rows: list[dict], **options: object) -> dag.AgGrid:
    """A sortable, filterable grid in Vigil's dark theme; `options` add to or replace the grid options."""
    return dag.AgGrid(
        # A row id must be a string (AG Grid warns of any other, warning #25). The expression is read by
        # dash-ag-grid's own evaluator, which knows no global such as String().
        id=grid_id, columnDefs=columns, rowData=rows, getRowId="params.data.id + ''",
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={"animateRows": False, "domLayout": "autoHeight", "theme": DARK_GRID, **options},
        style={"width": "100%"},
    )


def selected_field(selected: list[dict], field: str, kind: type) -> Any:
    """`field` of a single-selection grid's selected row, as the grid sends it; a row without it (a forged
    request) is answered 400."""
    value = selected[0].get(field) if selected else None
    if type(value) is not kind:
        refuse_request(f"the selected row has no {kind.__name__} {field}")
    return value


def _grid(grid_id: str, columns: list[dict], rows: list[dict]) -> dag.AgGrid:
    return dark_grid(grid_id, columns, rows, pagination=True, paginationPageSize=20)


def alarm_history_grid() -> dag.AgGrid:
    return _grid("alarm-history", ALARM_COLUMNS, [])


def audit_grid(rows: list[dict]) -> dag.AgGrid:
    return _grid("audit-grid", AUDIT_COLUMNS, rows)
