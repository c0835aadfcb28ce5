"""Alarms on the bed view: the banner and its controls, the alarm history grid, the wire format, and
acknowledging.

Alarm state lives in the store (the engine writes it, acknowledgements update it); the browser gets
each change over the stream as `alarm_payload` and decides locally what flashes, what sounds and
what the banner lists (assets/vigil_alarms.js), so every open tab agrees with the store. Acknowledging
is the one server action here.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import Dash, Input, Output, html

from monitor.alarms.text import alarm_text, peak_text, priority_reached
from monitor.auth.roles import Permission
from monitor.store import Store, StoredAlarm
from monitor.web.audit import audit_rows
from monitor.web.auth import current_actor, require
from monitor.web.bed import ids
from monitor.web.bed.figures import display_ms
from monitor.web.bed.shown import SHOWN, shown_session
from monitor.web.grids import paged_grid

AUDIO_PAUSE_S = 120  # IEC 60601-1-8 / Dräger: audio paused for at most 2 min (research §3.4)
REMINDER_S = 180  # re-announce an acknowledged alarm that is still present (Philips: 2–3 min)
# The numeric tiles an alarm colours; a signal loss greys HR, SpO2 and PR alike, NIBP overdue the NIBP tile.
TILES_OF = {"sbp": ["bp"], "dbp": ["bp"], "map": ["bp"], "nibp": ["bp"], "hr": ["hr"], "spo2": ["spo2"],
            "pr": ["pr"], "rr": ["rr"], "signal": ["hr", "spo2", "pr"]}


def alarm_payload(stored: StoredAlarm, tz: tzinfo) -> dict:
    """One alarm as the browser receives it (times in display ms, like readings); `reached` is when it reached
    its priority, null if at onset."""
    e = stored.episode
    reached = priority_reached(e)
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
        "reached": None if reached is None else display_ms(reached, tz),
        "peak": e.peak,
        "limit": e.limit,
        "value": e.value,
        "text": alarm_text(e),
        "peakText": peak_text(e),
        "acked": stored.acked_at is not None,
        "ackBy": stored.acked_by,
        # On the session clock, as every other time on the bed view (the wall-clock time is in the audit trail).
        "ackAt": None if stored.acked_session is None else display_ms(stored.acked_session, tz),
    }


def alarm_bar() -> html.Div:
    """Banner of active alarms (filled in the browser) and the nurse's controls beside it."""
    return html.Div(
        id=ids.ALARM_BAR,
        className="alarm-bar alarm-none",
        children=[
            html.Div(id=ids.ALARM_BANNER, className="alarm-banner", children="No active alarms"),
            html.Div(className="alarm-controls", children=[
                dmc.Button("Acknowledge", id=ids.ACK_BUTTON, color="gray", size="md", n_clicks=0,
                           className="needs-acknowledge"),
                dmc.Button(f"Audio pause {AUDIO_PAUSE_S // 60} min", id=ids.AUDIO_PAUSE, color="gray", size="md",
                           n_clicks=0),
                dmc.Button("Sound off — click to enable", id=ids.SOUND_TOGGLE, color="red", size="md", n_clicks=0,
                           className="sound-off"),
            ]),
        ],
    )


# Wide enough for each header with AG Grid's sort and filter icons beside it (at 110 px "Announced" was cut off).
ALARM_COLUMNS = [
    {"field": "announcedText", "headerName": "Announced", "width": 135},
    {"field": "priority", "headerName": "Priority", "width": 100},
    {"field": "text", "headerName": "Alarm", "flex": 2},
    {"field": "peakText", "headerName": "Peak", "width": 90},
    {"field": "endText", "headerName": "Ended", "width": 110},
    {"field": "ackText", "headerName": "Acknowledged", "flex": 1},
]


def alarm_history_grid() -> dag.AgGrid:
    return paged_grid(ids.ALARM_HISTORY, ALARM_COLUMNS, [])


def register_acknowledge(app: Dash, store: Store, tz: tzinfo) -> None:
    """Acknowledge every alarm of the session in the signed-in user's name; the audit tab shows it at once."""
    @app.callback(
        Output(ids.AUDIT_GRID, "rowData", allow_duplicate=True),
        Input(ids.ACK_BUTTON, "n_clicks"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.ACKNOWLEDGE)
    def acknowledge(_clicks: int, shown: int) -> list[dict]:
        session_id = shown_session(store, shown)
        wall = datetime.now(UTC)
        now = store.sessions.info(session_id).clock_now(wall)
        store.alarms.acknowledge(session_id, current_actor().name, wall, now)
        return audit_rows(store.audit.entries(session_id=session_id), tz)
