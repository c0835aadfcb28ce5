"""Replay controls on the bed view (only when a replay runs in-process): play/pause, speed and seek.

The bar follows the replay position in the browser (assets/vigil.js `replayBar`); the controls are server
callbacks to the in-process runner, which the stream then reflects like any other change.
"""

from __future__ import annotations

from datetime import timedelta

import dash_mantine_components as dmc
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html

from adapters.files.replay import MAX_SPEED, parse_speed
from monitor.auth.roles import Permission
from monitor.runtime.replay import ReplayRunner
from monitor.web.auth import refuse_request, require
from monitor.web.bed import ids
from monitor.web.bed.clientside import named_clientside_callback

SPEEDS = ("1", "2", "5", "10", "20", "60", "120", "300", "1000", "max")

# vigil.js `replayBar`: where the replay is, the slider's range and position, and the play button.
BAR_OUTPUTS = {
    "position": Output(ids.REPLAY_POSITION, "children"),
    "max": Output(ids.REPLAY_SEEK, "max"),
    "value": Output(ids.REPLAY_SEEK, "value"),
    "play": Output(ids.REPLAY_PLAY, "children"),
}


def speed_label(speed: float) -> str:
    return "max" if speed == MAX_SPEED else f"{speed:g}"


def speed_options(running: str) -> list[dict]:
    """The speeds offered, with the one the replay runs at (`--speed 30`) among them: a select never shows blank."""
    speeds = sorted({*SPEEDS, running}, key=parse_speed)
    return [{"value": s, "label": "max" if s == "max" else f"{s}×"} for s in speeds]


def replay_bar(speed: str) -> html.Div:
    return html.Div(
        id=ids.REPLAY_BAR,
        className="replay-bar needs-replay",
        children=[
            dmc.Button("Pause", id=ids.REPLAY_PLAY, variant="filled", color="gray", size="sm", n_clicks=0),
            dmc.Select(id=ids.REPLAY_SPEED, data=speed_options(speed), value=speed, w=110, size="sm",
                       allowDeselect=False, comboboxProps={"withinPortal": False}),
            html.Div(dcc.Slider(id=ids.REPLAY_SEEK, min=0, max=1, step=1, value=0, marks=None, updatemode="mouseup",
                                allow_direct_input=False, tooltip=None), className="replay-slider"),
            html.Span("00:00:00 / 00:00:00", id=ids.REPLAY_POSITION, className="replay-position"),
        ],
    )


def register_replay_callbacks(app: Dash, runner: ReplayRunner) -> None:
    named_clientside_callback(
        app, "vigil", "replayBar", BAR_OUTPUTS,
        Input(ids.LATEST, "data"), State(ids.REPLAY_SEEK, "value"),  # `latest`: set once a second by vigil.js
    )
    app.clientside_callback(
        ClientsideFunction("vigil", "seekFilter"),
        Output(ids.SEEK_REQUEST, "data"),
        Input(ids.REPLAY_SEEK, "value"),
        prevent_initial_call=True,
    )

    @app.callback(Input(ids.REPLAY_PLAY, "n_clicks"), prevent_initial_call=True)
    @require(Permission.REPLAY)
    def toggle_play(_clicks: int) -> None:
        if runner.source.paused or runner.source.finished:
            runner.play()
        else:
            runner.pause()

    @app.callback(Input(ids.REPLAY_SPEED, "value"), prevent_initial_call=True)
    @require(Permission.REPLAY)
    def change_speed(value: str | None) -> None:
        if value is None:
            return
        try:
            speed = parse_speed(value)
        except ValueError:  # the control offers none such
            refuse_request(f"no replay speed {value!r}")
        if speed != runner.source.speed:
            runner.set_speed(value)

    @app.callback(Input(ids.SEEK_REQUEST, "data"), prevent_initial_call=True)
    @require(Permission.REPLAY)
    def seek(seconds: float | None) -> None:
        if seconds is None:
            return
        slider_max = max(1, round((runner.source.end - runner.source.start).total_seconds()))  # as vigil.js sets it
        if not 0 <= seconds <= slider_max:
            refuse_request(f"no replay position {seconds} s")
        runner.seek(runner.source.start + timedelta(seconds=seconds))
