"""The bed view's components: alarm bar, numerics tiles, trend, replay bar, panels. Built from data, no callbacks."""

from __future__ import annotations

import dash_mantine_components as dmc
from dash import dcc, html

from monitor.web.bed.alarm_view import alarm_bar, alarm_history_grid, audit_grid

SPEEDS = ("1", "2", "5", "10", "20", "60", "120", "300", "1000", "max")


def tile(key: str, label: str, unit: str, size: str = "big") -> html.Div:
    """One numeric: label and unit, the value, and how old it is."""
    return html.Div(
        id=f"tile-{key}",
        className=f"tile tile-{size} vital-{key}",
        children=[
            html.Div([html.Span(label, className="tile-label"), html.Span(unit, className="tile-unit")],
                     className="tile-head"),
            html.Div(html.Span("--", id=f"num-{key}", className="tile-value")),
            *([html.Div(html.Span("", id="num-map", className="tile-sub"))] if key == "bp" else []),
            html.Div("no data", id=f"age-{key}", className="tile-age"),
        ],
    )


def numerics() -> html.Div:
    return html.Div(
        className="numerics",
        children=[
            tile("bp", "NIBP", "mmHg"),
            tile("hr", "HR", "bpm"),
            tile("spo2", "SpO₂", "%"),
            html.Div([tile("pr", "PR", "bpm", "small"), tile("rr", "RR", "/min", "small")], className="tile-row"),
        ],
    )


def header(bed: str, session_name: str, user: list) -> html.Div:
    return html.Div(
        className="header",
        children=[
            html.Div([html.Span("Vigil", className="brand"), html.Span(bed, className="bed"),
                      html.Span(session_name, className="session-name")], className="header-left"),
            html.Div([
                html.Span("Pre-dose", id="elapsed", className="elapsed"),
                html.Span("--:--:--", id="clock-text", className="clock"),
                html.Span("Connecting…", id="link-status", className="link link-wait"),
                html.Div(user, className="header-user"),
            ], className="header-right"),
        ],
    )


def replay_bar(speed: str) -> html.Div:
    return html.Div(
        id="replay-bar",
        className="replay-bar needs-replay",
        children=[
            dmc.Button("Pause", id="replay-play", variant="filled", color="gray", size="sm", n_clicks=0),
            dmc.Select(id="replay-speed", data=[{"value": s, "label": f"{s}×" if s != "max" else "max"}
                                                 for s in SPEEDS], value=speed, w=110, size="sm",
                       allowDeselect=False, comboboxProps={"withinPortal": False}),
            html.Div(dcc.Slider(id="replay-seek", min=0, max=1, step=1, value=0, marks=None, updatemode="mouseup",
                                allow_direct_input=False, tooltip=None), className="replay-slider"),
            html.Span("00:00:00 / 00:00:00", id="replay-position", className="replay-position"),
        ],
    )


def panels(session_panel: html.Div, limits_panel: html.Div, audit: list[dict]) -> dmc.Tabs:
    """Below the trend: the session (set-up, baseline, checkpoints, notes), what happened (alarms),
    what is set (limits) and who changed what (audit)."""
    return dmc.Tabs(
        id="panels", value="session", className="panels", color="gray",
        children=[
            dmc.TabsList([
                dmc.TabsTab("Session", value="session"),
                dmc.TabsTab("Alarm history", value="history"),
                dmc.TabsTab("Limits", value="limits"),
                dmc.TabsTab("Audit trail", value="audit"),
            ]),
            dmc.TabsPanel(session_panel, value="session"),
            dmc.TabsPanel(alarm_history_grid(), value="history"),
            dmc.TabsPanel(limits_panel, value="limits"),
            dmc.TabsPanel(audit_grid(audit), value="audit"),
        ],
    )


def bed_view(*, bed: str, session_name: str, figure: dict, stream_config: dict, latest: dict, alarms: list[dict],
             session: dict, session_strip: html.Div, session_panel: html.Div, dialogs: list,
             limits_panel: html.Div, audit: list[dict], replay_speed: str | None, user: list,
             hidden: list[str]) -> dmc.MantineProvider:
    """The whole bed page; `replay_speed` (the current replay speed) adds the replay control bar.

    `hidden`: permissions this user lacks; the controls needing them (class `needs-<permission>`) are
    hidden by the style sheet. That is only for the eye: the server refuses the requests.
    """
    return dmc.MantineProvider(
        forceColorScheme="dark",
        children=html.Div(
            className=" ".join(["bed-view", *(f"no-{p}" for p in hidden)]),
            children=[
                header(bed, session_name, user),
                alarm_bar(),
                session_strip,
                html.Div(className="main", children=[
                    numerics(),
                    html.Div(dcc.Graph(id="trend", figure=figure, config={"displaylogo": False},
                                       className="trend"), className="trend-box"),
                ]),
                replay_bar(replay_speed) if replay_speed else html.Div(id="replay-bar", hidden=True),
                panels(session_panel, limits_panel, audit),
                *dialogs,
                html.Div("Decision support only — not a medical device. Verify values on the bedside monitor.",
                         className="disclaimer"),
                dcc.Store(id="stream-config", data=stream_config),
                dcc.Store(id="stream-tick", data=0),
                dcc.Store(id="trend-tick", data=0),
                dcc.Store(id="latest", data=latest),
                dcc.Store(id="alarms-initial", data=alarms),
                dcc.Store(id="alarm-tick", data=0),
                dcc.Store(id="session-state", data=session),
                dcc.Store(id="seek-request"),
                dcc.Interval(id="clock-tick", interval=1000),  # clocks and ages only, never data
            ],
        ),
    )
