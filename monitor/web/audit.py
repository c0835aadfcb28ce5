"""The audit trail on screen: the bed view's Audit tab (this session's entries) and the audit page (/audit/:
every audited action across sessions and users, for clinicians and admins).

Sign-ins, failed sign-ins, user changes and refused requests have no session; they show under "no session".
The page and its callback need the `audit` permission (the guard refuses the page itself with 403).
The audit table is append-only, so both only read.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
import flask
from dash import Dash, Input, Output, html, no_update

from monitor.auth.roles import Permission
from monitor.store import AuditEntry, Store
from monitor.web import urls
from monitor.web.auth import require
from monitor.web.bed import ids
from monitor.web.bed.shown import SHOWN, shown_session
from monitor.web.grids import dark_grid, paged_grid
from monitor.web.pages import page_app, page_header

NO_SESSION = "none"
AUDIT_COLUMNS = [
    {"field": "at", "headerName": "When", "width": 170},
    {"field": "session", "headerName": "Session time", "width": 120},
    {"field": "who", "headerName": "Who", "width": 120},
    {"field": "action", "headerName": "Action", "width": 120},
    {"field": "target", "headerName": "What", "flex": 1},
    {"field": "old", "headerName": "Old", "flex": 1},
    {"field": "new", "headerName": "New", "flex": 1},
    {"field": "reason", "headerName": "Reason", "flex": 1},
]
COLUMNS = [{"field": "sid", "headerName": "Session", "width": 100}, *AUDIT_COLUMNS]  # the page's, across sessions


def audit_rows(entries: list[AuditEntry], tz: tzinfo) -> list[dict]:
    """Newest first; the session time in `tz`, wall times in this machine's zone."""
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
            "reason": a.reason,
        }
        for a in reversed(entries)
    ]


def audit_grid(rows: list[dict]) -> dag.AgGrid:
    """The bed view's Audit tab: who changed what in this session."""
    return paged_grid(ids.AUDIT_GRID, AUDIT_COLUMNS, rows)


def register_audit_tab(app: Dash, store: Store, tz: tzinfo) -> None:
    """The bed view's Audit tab reads the store afresh each time it is opened."""
    @app.callback(
        Output(ids.AUDIT_GRID, "rowData", allow_duplicate=True),
        Input(ids.PANELS, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.VIEW)
    def refresh_audit(panel: str | None, shown: int) -> Any:  # the rows, or no_update
        if panel != "audit":
            return no_update
        return audit_rows(store.audit.entries(session_id=shown_session(store, shown)), tz)


def rows(entries: list[AuditEntry], names: dict[int, str], tz: tzinfo) -> list[dict]:
    """The page's rows: `audit_rows` with the session as "id name"."""
    return [
        {**row, "sid": "" if e.session_id is None else f"{e.session_id} {names.get(e.session_id, '')}".strip()}
        for e, row in zip(reversed(entries), audit_rows(entries, tz), strict=True)
    ]


def filtered(store: Store, session: str | None, who: str | None, tz: tzinfo) -> list[dict]:
    names = {s.id: s.name for s in store.sessions.listing()}
    if session not in (None, NO_SESSION, *map(str, names)):
        return []  # not a value the page offers
    entries = store.audit.entries(session_id=None if session in (None, NO_SESSION) else int(session), who=who or None)
    if session == NO_SESSION:
        entries = [e for e in entries if e.session_id is None]
    return rows(entries, names, tz)


def audit_view(store: Store, tz: tzinfo) -> dmc.MantineProvider:
    sessions = [{"value": NO_SESSION, "label": "no session (sign-ins, users)"},
                *[{"value": str(s.id), "label": f"{s.id} {s.name}"} for s in store.sessions.listing()]]
    people = sorted({e.who for e in store.audit.entries()})
    return dmc.MantineProvider(forceColorScheme="dark", children=html.Div(className="history-view", children=[
        page_header("Audit trail"),
        html.Div(className="audit-filters", children=[
            dmc.Select(id="audit-session", label="Session", data=sessions, clearable=True, searchable=True,
                       placeholder="all sessions", w=320, comboboxProps={"withinPortal": False}),
            dmc.Select(id="audit-user", label="User", data=people, clearable=True, searchable=True,
                       placeholder="all users", w=220, comboboxProps={"withinPortal": False}),
        ]),
        dark_grid("audit-all", COLUMNS, filtered(store, None, None, tz), pagination=True, paginationPageSize=50),
        html.Div("Append-only: entries cannot be changed or deleted from Vigil.", className="history-disclaimer"),
    ]))


def create_audit_app(server: flask.Flask, store: Store, tz: tzinfo) -> Dash:
    """Mount the audit page at `urls.AUDIT` on `server` (the bed view's Flask app)."""
    app = page_app(server, urls.AUDIT, "audit trail")
    app.layout = lambda: audit_view(store, tz)  # each page load reads the store afresh

    @app.callback(Output("audit-all", "rowData"), Input("audit-session", "value"), Input("audit-user", "value"),
                  prevent_initial_call=True)
    @require(Permission.AUDIT)
    def apply_filters(session: str | None, who: str | None) -> list[dict]:
        return filtered(store, session, who, tz)

    return app
