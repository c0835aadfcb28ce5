"""The session history page (`urls.HISTORY`): past sessions, one session's review, and the patient's course.

A second Dash app on the bed view's Flask server (`monitor.web.pages`). Nothing here is live: every server
callback reads the store when the user asks, and the page has no interval.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import dash_mantine_components as dmc
import flask
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from monitor.auth.roles import Permission
from monitor.session.course import CourseRow, course, session_duration
from monitor.session.record import SessionRecord, session_record
from monitor.session.types import session_type
from monitor.store import Store
from monitor.timeutil import EPOCH
from monitor.web import urls
from monitor.web.auth import refuse_request, require
from monitor.web.bed.figures import trend_figure
from monitor.web.grids import dark_grid, selected_field
from monitor.web.pages import page_app, page_header

NOT_RECORDED = "not recorded"
PICK_A_SESSION = "Select a session above to review it."
SESSION_COLUMNS = [
    {"field": "date", "headerName": "Date", "width": 170},
    {"field": "bed", "headerName": "Bed", "width": 110},
    {"field": "type", "headerName": "Type", "flex": 1},
    {"field": "patient", "headerName": "Patient label", "flex": 1},
    {"field": "name", "headerName": "Session", "flex": 1},
    {"field": "duration", "headerName": "Duration (h:min)", "width": 150},
    {"field": "alarms", "headerName": "Alarms", "width": 110, "filter": "agNumberColumnFilter"},
]

COURSE_COLUMNS = [
    {"field": "date", "headerName": "Date", "minWidth": 160, "flex": 1},
    {"field": "type", "headerName": "Type", "minWidth": 180, "flex": 1},
    {"field": "duration", "headerName": "Duration (h:min)", "minWidth": 150, "flex": 1},
    {"field": "alarms", "headerName": "Alarms", "minWidth": 100, "flex": 1},
    {"field": "baseline", "headerName": "Baseline SBP", "minWidth": 150, "flex": 1},
    {"field": "peak", "headerName": "Peak SBP after dose", "minWidth": 190, "flex": 1},
    {"field": "rise", "headerName": "Peak SBP rise (mmHg)", "minWidth": 200, "flex": 1},
]


def when(t: datetime | None, relative: bool, tz: tzinfo) -> str:
    """A session time for display; a relative-time recording shows elapsed time, not a 1970 date."""
    if t is None:
        return NOT_RECORDED
    if relative:
        return "+" + hours_minutes(t - EPOCH, seconds=True)
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def hours_minutes(span: timedelta | None, *, seconds: bool = False) -> str:
    """`hh:mm` (zero-padded, so the text sorts in time order), or `hh:mm:ss`."""
    if span is None:
        return ""
    total = int(span.total_seconds())
    text = f"{total // 3600:02d}:{total % 3600 // 60:02d}"
    return f"{text}:{total % 60:02d}" if seconds else text


def mmhg(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return NOT_RECORDED
    return f"{value:+.0f}" if signed else f"{value:.0f}"


def session_rows(store: Store, tz: tzinfo) -> list[dict]:
    """The history grid's rows, newest first."""
    rows = []
    for s in store.sessions.listing():
        relative = store.sessions.info(s.id).relative_time
        rows.append({
            "id": s.id, "date": when(s.first, relative, tz) if s.first else "no readings", "bed": s.bed,
            "type": session_type(s.session_type).label, "patient": s.patient_label, "name": s.name,
            "duration": hours_minutes(session_duration(s)), "alarms": s.alarms,
        })
    return rows


def course_rows(rows: list[CourseRow], dates: list[str]) -> list[dict]:
    return [
        {"id": r.session_id, "date": date, "type": session_type(r.session_type).label,
         "duration": hours_minutes(r.duration), "alarms": r.alarms, "baseline": mmhg(r.baseline_sbp),
         "peak": mmhg(r.peak_sbp), "rise": mmhg(r.peak_rise, signed=True)}
        for r, date in zip(rows, dates, strict=True)
    ]


def course_figure(rows: list[CourseRow], dates: list[str]) -> go.Figure:
    """Peak SBP rise per session in date order; a session without one is a gap labelled "not recorded"."""
    labels = [f"{date}<br>#{r.session_id}" for r, date in zip(rows, dates, strict=True)]
    rises = [r.peak_rise for r in rows]
    texts = ["" if v is None else mmhg(v, signed=True) for v in rises]
    fig = go.Figure(go.Scatter(
        x=labels, y=rises, mode="lines+markers+text", text=texts,
        textposition="top center", cliponaxis=False, line={"color": "#ff8a80"}, marker={"size": 9}, connectgaps=False,
        hovertemplate="%{x}: %{y:+.0f} mmHg<extra></extra>",
    ))
    for label, rise in zip(labels, rises, strict=True):
        if rise is None:
            fig.add_annotation(x=label, y=0.5, yref="paper", text=NOT_RECORDED, showarrow=False, textangle=-90,
                               font={"color": "#9e9e9e", "size": 11})
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="#111", plot_bgcolor="#111", height=260,
        margin={"l": 50, "r": 10, "t": 30, "b": 50}, title={"text": "Peak SBP rise after dose (mmHg)", "x": 0},
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(zeroline=True, zerolinecolor="#616161", gridcolor="#333")
    return fig


def _fact(label: str, value: str) -> html.Div:
    return html.Div([dmc.Text(label, size="xs", c="dimmed"), dmc.Text(value or "—", size="md")])


def review(record: SessionRecord, tz: tzinfo) -> html.Div:
    """One past session: its key facts, its whole trend, and links to its record."""
    info = record.info
    relative = info.relative_time
    zone = UTC if relative else tz  # relative times are elapsed time since 00:00 UTC
    figure = trend_figure(record.readings, [s.event for s in record.events], record.limit_lines, zone)
    if relative:
        figure.update_xaxes(tickformat="%H:%M")
    end = when(record.end, relative, tz)
    return html.Div(className="history-review", children=[
        dmc.Group(justify="space-between", children=[
            dmc.Title(info.name, order=3),
            dmc.Group([
                dmc.Anchor("Session record (HTML)", id="report-html", href=urls.report_html(info.id),
                           target="_blank", refresh=True),
                dmc.Anchor("PDF", id="report-pdf", href=urls.report_pdf(info.id), target="_blank", refresh=True),
            ]),
        ]),
        dmc.SimpleGrid(cols=6, mt="xs", children=[
            _fact("Type", record.stype.label),
            _fact("Patient label", info.patient_label),
            _fact("Bed", info.bed),
            _fact("Start", when(record.start, relative, tz)),
            _fact("End", end if info.ended is not None else f"{end} (last data; not ended)"),
            _fact("Ended by", info.ended_by or ("" if info.ended is not None else "not ended")),
        ]),
        dcc.Graph(id="review-trend", figure=figure, config={"displaylogo": False}),
    ])


def course_section(store: Store, label: str, selected: int, tz: tzinfo) -> html.Div:
    """The patient's sessions side by side: a table and the peak SBP rise over the course."""
    rows = course(store, label)
    dates = [when(r.date, store.sessions.info(r.session_id).relative_time, tz) for r in rows]
    return html.Div(className="history-course", children=[
        dmc.Title(f"Course of treatment — {label}", order=4),
        dark_grid("course-grid", COURSE_COLUMNS, course_rows(rows, dates),
              rowClassRules={"course-current": f"params.data.id === {selected}"}),
        dcc.Graph(id="course-chart", figure=course_figure(rows, dates), config={"displaylogo": False}),
    ])


def history_view(rows: list[dict]) -> dmc.MantineProvider:
    return dmc.MantineProvider(forceColorScheme="dark", children=html.Div(className="history-view", children=[
        page_header("Session history"),
        dark_grid("sessions-grid", SESSION_COLUMNS, rows, pagination=True, paginationPageSize=20,
              rowSelection={"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}),
        html.Div(PICK_A_SESSION, id="review", className="history-placeholder"),
        html.Div(id="course"),
        html.Div("Decision support only — not a medical device.", className="history-disclaimer"),
    ]))


def create_history_app(server: flask.Flask, store: Store, tz: tzinfo) -> Dash:
    """Mount the history page at `urls.HISTORY` on `server` (the bed view's Flask app)."""
    app = page_app(server, urls.HISTORY, "sessions")
    app.layout = lambda: history_view(session_rows(store, tz))  # each page load reads the store afresh

    @app.callback(Output("review", "children"), Output("course", "children"), Input("sessions-grid", "selectedRows"),
                  prevent_initial_call=True)
    @require(Permission.VIEW)
    def show_session(selected: list[dict] | None) -> tuple:
        if not selected:
            return PICK_A_SESSION, None
        session_id = selected_field(selected, "id", int)
        try:
            store.sessions.info(session_id)
        except KeyError:  # asked apart, so a KeyError from a bug is not taken for a bad request
            refuse_request(f"no session {session_id}")
        record = session_record(store, session_id)
        label = record.info.patient_label
        return review(record, tz), course_section(store, label, record.info.id, tz) if label else None

    return app
