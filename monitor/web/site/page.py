"""The central view's page (`urls.SITE` of `vigil serve`): a Dash shell for sign-in, roles and the page chrome, with
a tile per bed that assets/vigil_site.js fills straight from the site stream (`site.stream`).

Dash serves every asset to every app on the server: this page loads only the scripts it uses (its own and the
bed view's alarm, sound, format and session helpers it reads from), never vigil.js, which drives a bed view; and
vigil_site.js does nothing until this page's one clientside callback starts it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import dash_mantine_components as dmc
import flask
from dash import ClientsideFunction, Dash, Input, Output, dcc, html

from monitor.web import urls
from monitor.web.auth import current_actor
from monitor.web.bed import ids
from monitor.web.bed.alarm_view import AUDIO_PAUSE_S, REMINDER_S
from monitor.web.bed.layout import user_badge
from monitor.web.site.stream import TREND_STEP_MS, TREND_WINDOW, SiteBed

# Every script but the ones this page uses: the bed view's own (vigil.js, vigil_limits.js, …) stay off it.
NOT_SITE_SCRIPTS = r"^(?!(vigil_auth|vigil_format|vigil_audio|vigil_alarms|vigil_session|vigil_site)\.js$).*\.js$"
ASSETS = Path(__file__).resolve().parents[1] / "assets"  # the web layer's assets (Dash looks beside the module)
CONFIG = "site-config"
STARTED = "site-started"
ALARM_TICK = "site-alarm-tick"  # what vigil_alarms.js tells when a new alarm breaks through the audio pause
BANNER = "site-banner"
PAUSE = "site-audio-pause"
SOUND = "site-sound"
NOTICES = "site-notices"  # for the admin: HL7 senders no bed claims
TREND_RANGES = {"sbp": [40, 240], "hr": [30, 180]}  # the trend's fixed scales: every tile reads alike


def tile_id(bed_id: str) -> str:
    return f"site-tile-{bed_id}"


def grid_shape(beds: int) -> tuple[int, int]:
    """(columns, rows): 2×2 for 4 beds, 4×2 for 8, 4×4 for 16; a landscape screen gets the wider side."""
    columns = 1 if beds <= 1 else 2 if beds <= 4 else 3 if beds <= 6 else 4
    return columns, max(1, math.ceil(beds / columns))


def vital(key: str, label: str) -> html.Div:
    return html.Div(className=f"sv sv-{key} nodata", children=[
        html.Span(label, className="sv-name"), html.Span("--", className="sv-value"),
        html.Span("", className="sv-age"),
    ])


def tile(bed: SiteBed) -> html.A:
    """A bed's tile, filled by the browser; the whole tile opens the bed's view."""
    return html.A(id=tile_id(bed.id), href=urls.site_bed(bed.id), className="site-tile", children=[
        html.Div(className="st-head", children=[
            html.Span(bed.label, className="st-label"), html.Span("", className="st-patient"),
            html.Span("", className="st-type"), html.Span("Connecting…", className="st-link"),
        ]),
        html.Div(className="st-session", children=[
            html.Span("", className="st-dose"), html.Span("", className="st-next"), html.Span("", className="st-obs"),
        ]),
        html.Div(className="st-vitals", children=[vital("bp", "NIBP"), vital("hr", "HR"), vital("spo2", "SpO₂")]),
        html.Div(className="st-trend"),
        html.Div(className="st-offline", children=[html.Span("OFFLINE", className="st-offline-word"),
                                                   html.Span("", className="st-offline-why")]),
    ])


def browser_config(beds: Sequence[SiteBed]) -> dict:
    """What vigil_site.js needs: the beds, the stream's path, the ids it writes, the alarm timings of the bed view."""
    return {
        "beds": [{"id": bed.id, "label": bed.label, "tile": tile_id(bed.id)} for bed in beds],
        "urls": {"stream": urls.SITE_STREAM, "signIn": urls.SIGN_IN},
        "ids": {"alarmTick": ALARM_TICK, "banner": BANNER, "pause": PAUSE, "sound": SOUND, "notices": NOTICES,
                "status": ids.LINK_STATUS},
        "audioPauseS": AUDIO_PAUSE_S, "reminderS": REMINDER_S,
        "trendMs": int(TREND_WINDOW.total_seconds() * 1000), "stepMs": TREND_STEP_MS, "ranges": TREND_RANGES,
    }


def central_view(name: str, beds: Sequence[SiteBed]) -> dmc.MantineProvider:
    """The page for the user asking: header, the site's alarm banner, the tiles."""
    columns, rows = grid_shape(len(beds))
    return dmc.MantineProvider(forceColorScheme="dark", children=html.Div(className="site-view", children=[
        html.Div(className="site-header", children=[
            html.Span("Vigil", className="brand"), html.Span(name, className="site-name"),
            html.Div(className="site-controls", children=[
                html.Button(f"Audio pause {AUDIO_PAUSE_S // 60} min", id=PAUSE, className="site-button"),
                html.Button("Sound off — click to enable", id=SOUND, className="site-button sound-off"),
                html.Span("Connecting…", id=ids.LINK_STATUS, className="link link-wait"),
                html.Div(user_badge(current_actor()), className="header-user"),
            ]),
        ]),
        html.Div(id=BANNER, className="alarm-bar alarm-none site-banner",
                 children=html.Div("No active alarms", className="alarm-banner")),
        html.Div(className="site-grid", style={"--site-columns": columns, "--site-rows": rows},
                 children=[tile(bed) for bed in beds]),
        html.Div(id=NOTICES, className="site-notices", hidden=True),
        dcc.Store(id=CONFIG, data=browser_config(beds)),
        dcc.Store(id=STARTED),
        dcc.Store(id=ALARM_TICK, data=0),
    ]))


def no_session_page() -> dmc.MantineProvider:
    """A bed's view before the bed's first session: its chair computer has not acquired it yet."""
    return dmc.MantineProvider(forceColorScheme="dark", children=html.Div(className="site-view", children=[
        html.Div(className="site-header", children=[html.Span("Vigil", className="brand")]),
        html.P("No session on this bed yet: it opens when the bed's chair computer starts acquiring. "
               "Reload this page then.", className="no-session"),
        html.A("Back to the central view", href=urls.SITE),
    ]))


def create_central_app(server: flask.Flask, name: str, beds: Sequence[SiteBed]) -> Dash:
    """The central view at `urls.SITE` on the site's server."""
    # Dash takes a Flask server and update_title=None, whatever its annotations say.
    app = Dash(__name__, server=server, url_base_pathname=urls.SITE, title=f"Vigil — {name}",  # type: ignore[arg-type]
               update_title=None, serve_locally=True, assets_folder=str(ASSETS),  # type: ignore[arg-type]
               assets_ignore=NOT_SITE_SCRIPTS)
    app.layout = lambda: central_view(name, beds)  # a function: the user badge is the asking user's
    # The one callback, in the browser: it starts vigil_site.js, which then writes the tiles itself.
    app.clientside_callback(ClientsideFunction("vigilSite", "start"), Output(STARTED, "data"), Input(CONFIG, "data"))
    return app
