"""The audit page (/audit/): every audited action across sessions and users, for clinicians and admins.

Sign-ins, failed sign-ins, user changes and refused requests have no session; they show under "no session".
The page and its callback need the `audit` permission (the guard refuses the page itself with 403).
The audit table is append-only, so this page only reads.
"""

from __future__ import annotations

from datetime import tzinfo

import dash_mantine_components as dmc
import flask
from dash import Dash, Input, Output, html

from monitor.auth.roles import Permission
from monitor.store import AuditEntry, Store
from monitor.web.auth import require
from monitor.web.bed.alarm_view import AUDIT_COLUMNS, dark_grid
from monitor.web.history import BED_VIEW_SCRIPTS

NO_SESSION = "none"
COLUMNS = [{"field": "sid", "headerName": "Session", "width": 100}, *AUDIT_COLUMNS]


def rows(entries: list[AuditEntry], names: dict[int, str], tz: tzinfo) -> list[dict]:
    """Newest first; the session as "id name", the session time in `tz`, wall times in this machine's zone."""
    return [
        {"id": e.id, "sid": "" if e.session_id is None else f"{e.session_id} {names.get(e.session_id, '')}".strip(),
         "at": e.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
         "session": "" if e.session_time is None else e.session_time.astimezone(tz).strftime("%H:%M:%S"),
         "who": e.who, "action": e.action, "target": e.target, "old": e.old, "new": e.new}
        for e in reversed(entries)
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
        html.Div(className="history-header", children=[
            html.Span("Vigil", className="history-brand"),
            html.Span("Audit trail", className="history-title"),
            dmc.Anchor("Bed view", href="/", refresh=True),
        ]),
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
    """Mount the audit page at /audit/ on `server` (the bed view's Flask app)."""
    app = Dash(__name__, server=server, url_base_pathname="/audit/", title="Vigil — audit trail",
               update_title=None, serve_locally=True, assets_ignore=BED_VIEW_SCRIPTS)
    app.layout = lambda: audit_view(store, tz)  # each page load reads the store afresh

    @app.callback(Output("audit-all", "rowData"), Input("audit-session", "value"), Input("audit-user", "value"),
                  prevent_initial_call=True)
    @require(Permission.AUDIT)
    def apply_filters(session: str | None, who: str | None) -> list[dict]:
        return filtered(store, session, who, tz)

    return app
