"""The bed view's components: header, alarm bar, numerics tiles, trend, replay bar, panels. Built from data,
no callbacks."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import dash_mantine_components as dmc
from dash import dcc, html

from monitor.web import auth, urls
from monitor.web.audit import audit_grid
from monitor.web.bed import ids
from monitor.web.bed.alarm_view import alarm_bar, alarm_history_grid
from monitor.web.bed.replay import replay_bar
from monitor.web.bed.trend_view import view_toggle
from monitor.web.bed.vitals_table import TAB, vitals_grid


def number_text(value: float) -> str:
    """A numeric as vigil.js `fmt` writes it (an integer as is, else rounded half away from zero, as JavaScript's
    toFixed): the page's first render and the browser's later ones agree."""
    if not math.isfinite(value):
        return str(value)
    return str(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def tile(key: str, label: str, unit: str, values: dict[str, list], size: str = "big") -> html.Div:
    """One numeric as on a bedside monitor: label, unit and the alarm limits in force on the left, the value on
    the right, how old it is below (for NIBP also when it was measured and when the cuff cycles next).

    The value is rendered from the store's latest (`values`: vital code -> [time, value]), so the page shows it at
    its first render; from then on vigil.js writes the tile's value, age, limits, class and title (no callback
    outputs to them), and it writes them at once, so what only it knows (age, staleness, alarms) is not shown."""
    bp = key == "bp"
    codes = ("sbp", "dbp") if bp else (key,)
    shown = codes[0] in values
    value = "/".join(number_text(values[code][1]) if code in values else "--" for code in codes)
    mean = f"MAP {number_text(values['map'][1])}" if "map" in values else ""
    return html.Div(
        id=ids.tile(key),
        className=f"tile tile-{size} vital-{key}" + ("" if shown else " nodata"),
        children=[
            html.Div([html.Span(label, className="tile-label"), html.Span(unit, className="tile-unit"),
                      html.Span("", id=ids.limits(key), className="tile-limits")], className="tile-head"),
            html.Div([html.Span(value, id=ids.number(key), className="tile-value"),
                      *([html.Span(mean, id=ids.NUM_MAP, className="tile-sub")] if bp else [])],
                     className="tile-reading"),
            html.Div([html.Span("" if shown else "no data", id=ids.age(key), className="tile-age"),
                      *([html.Span("", id=ids.NIBP_CYCLE, className="tile-cycle")] if bp else [])],
                     className="tile-foot"),
        ],
    )


def numerics(values: dict[str, list]) -> html.Div:
    """NIBP, HR and SpO2 always; PR and RR, small, only once measured (`.nodata` small tiles take no room)."""
    return html.Div(
        className="numerics",
        children=[
            tile("bp", "NIBP", "mmHg", values),
            tile("hr", "HR", "bpm", values),
            tile("spo2", "SpO₂", "%", values),
            html.Div([tile("pr", "PR", "bpm", values, "small"), tile("rr", "RR", "/min", values, "small")],
                     className="tile-row"),
        ],
    )


def trend(figure: dict, toggle: html.Div) -> html.Div:
    """The trend fills the height the numerics leave it (the figure's own height gives way to its box's), without
    Plotly's toolbar; `toggle` (live window or whole session) sits over its top edge."""
    layout = {k: v for k, v in figure["layout"].items() if k != "height"}
    return html.Div([toggle, dcc.Graph(id=ids.TREND, figure={**figure, "layout": layout}, className="trend",
                                       config={"displaylogo": False, "displayModeBar": False}, responsive=True)],
                    className="trend-box", style={"position": "relative"})


def user_badge(actor: auth.Actor) -> list:
    """Who is signed in and a sign-out button; or, with sign-in off, a badge saying so."""
    if actor is auth.NOBODY:
        return []
    if not auth.sign_in_required():
        return [html.Span(auth.no_login_label(), id=ids.NO_LOGIN_BADGE, className="no-login-badge")]
    return [
        html.Span(f"{actor.name} ({actor.role})", id=ids.SIGNED_IN_AS, className="signed-in-as"),
        html.Form(action=urls.SIGN_OUT, method="POST", className="sign-out-form", children=[
            dcc.Input(type="hidden", name="_csrf_token", value=auth.csrf_token()),
            html.Button("Sign out", id=ids.SIGN_OUT, type="submit", className="sign-out"),
        ]),
    ]


def header(bed: str, session_name: str, user: list) -> html.Div:
    return html.Div(
        className="header",
        children=[
            html.Div([html.Span("Vigil", className="brand"), html.Span(bed, className="bed"),
                      html.Span(session_name, className="session-name")], className="header-left"),
            html.Div([
                html.Span("Pre-dose", id=ids.ELAPSED, className="elapsed"),
                html.Span("--:--:--", id=ids.CLOCK_TEXT, className="clock"),
                html.Span("Connecting…", id=ids.LINK_STATUS, className="link link-wait"),
                html.Div(user, className="header-user"),
            ], className="header-right"),
        ],
    )


def panels(session_panel: html.Div, limits_panel: html.Div, audit: list[dict]) -> dmc.Tabs:
    """Below the trend: the session (set-up, baseline, checkpoints, notes), the vitals per NIBP cycle (the
    tabular trend), what happened (alarms), what is set (limits) and who changed what (audit)."""
    return dmc.Tabs(
        id=ids.PANELS, value="session", className="panels", color="gray", keepMounted=False,
        children=[
            dmc.TabsList([
                dmc.TabsTab("Session", value="session"),
                dmc.TabsTab("Vitals table", value=TAB),
                dmc.TabsTab("Alarm history", value="history"),
                dmc.TabsTab("Limits", value="limits"),
                dmc.TabsTab("Audit trail", value="audit"),
            ]),
            dmc.TabsPanel(session_panel, value="session"),
            dmc.TabsPanel(vitals_grid(), value=TAB),
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
                # One viewport high: the alarms, every numeric, the trend and the replay bar without scrolling.
                html.Div(className="screen", children=[
                    header(bed, session_name, user),
                    alarm_bar(),
                    session_strip,
                    html.Div(className="main",
                             children=[numerics(latest["v"]), trend(figure, view_toggle(stream_config["windowMs"]))]),
                    replay_bar(replay_speed) if replay_speed else html.Div(id=ids.REPLAY_BAR, hidden=True),
                ]),
                panels(session_panel, limits_panel, audit),
                *dialogs,
                html.Div("Decision support only — not a medical device. Verify values on the bedside monitor.",
                         className="disclaimer"),
                dcc.Store(id=ids.SHOWN_SESSION, data=stream_config["session"]),
                dcc.Store(id=ids.STREAM_CONFIG, data=stream_config),
                dcc.Store(id=ids.TREND_SESSION),
                dcc.Store(id=ids.LATEST, data=latest),
                dcc.Store(id=ids.ALARMS_INITIAL, data=alarms),
                dcc.Store(id=ids.ALARM_TICK, data=0),
                dcc.Store(id=ids.SESSION_STATE, data=session),
                dcc.Store(id=ids.SEEK_REQUEST),
            ],
        ),
    )
