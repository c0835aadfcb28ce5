"""Dash app factory for the bed view.

Data flow: the page is built from the store on load (bounded window, cursor taken first so nothing
is missed or doubled); afterwards `/api/stream` pushes only what is new, and clientside callbacks
(assets/vigil.js) extend the trend and refresh the numerics, and assets/vigil_alarms.js turns alarm
changes into the banner, tile colours and sound. Server callbacks are user actions only: replay
controls (to the in-process runner), acknowledging alarms and editing limits (to the store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from dash import ALL, ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update

from adapters.files.replay import MAX_SPEED, parse_speed
from adapters.model.reading import DOSE_KINDS
from adapters.model.vitals import NIBP_CODES, VITALS
from monitor.auth.roles import Permission
from monitor.limits.model import Limits, limits_from_stored
from monitor.runtime.replay import ReplayRunner
from monitor.session.types import session_type
from monitor.store import Store
from monitor.timeutil import local_zone
from monitor.web import auth
from monitor.web.audit import create_audit_app
from monitor.web.auth import AuthSettings, current_actor, require
from monitor.web.bed import figures
from monitor.web.bed.alarm_view import AUDIO_PAUSE_S, REMINDER_S, alarm_payload, audit_rows
from monitor.web.bed.layout import bed_view
from monitor.web.bed.limits_editor import editor, register_limits_callbacks
from monitor.web.bed.session_callbacks import register_session_callbacks
from monitor.web.bed.session_view import end_modal, gate_modal, session_panel, session_payload, session_strip
from monitor.web.history import create_history_app
from monitor.web.report_routes import register_report_routes
from monitor.web.stream import clock_payload, register_stream
from monitor.web.users import create_users_app


@dataclass
class DashboardConfig:
    store: Store
    session_id: int
    display_tz: tzinfo = UTC
    window: timedelta = timedelta(hours=1)
    runner: ReplayRunner | None = None  # replay controls appear only when a replay runs in-process
    operator: str = "operator"  # who the audit trail names for changes made here when sign-in is off
    auth: AuthSettings = field(default_factory=AuthSettings)  # sign-in required unless told otherwise


def max_points(window: timedelta) -> dict[str, list[int]]:
    """Points each trace keeps in the browser: the window at up to 1 Hz, NIBP at up to 1/min."""
    seconds = int(window.total_seconds())
    per_trace = [seconds // 60 + 10 if spec.vital in NIBP_CODES else seconds for spec in figures.TRACES]
    per_trace += [3 * figures.MAX_EVENTS, figures.MAX_EVENTS]  # event lines (three points each), their labels
    return {"x": per_trace, "y": per_trace, "text": per_trace}


def initial_state(config: DashboardConfig) -> dict:
    """Everything the page needs at load, read consistently up to one cursor."""
    store, sid, tz = config.store, config.session_id, config.display_tz
    cursor = store.samples.cursor(sid)
    info = store.sessions.info(sid)
    latest = store.samples.latest(sid, max_id=cursor.reading)
    newest = max((r.time for r in latest.values()), default=None)
    start = None if newest is None else newest - config.window
    window_readings = store.samples.readings(sid, start, None, max_id=cursor.reading)
    events = store.samples.events(sid, cursor.event)
    stored_limits = store.limits.current(sid)
    limits = Limits() if stored_limits is None else limits_from_stored(stored_limits)
    session = session_payload(store, sid, tz)
    figure = figures.trend_figure(window_readings, events, limits, tz, extra_shapes=session["shapes"])
    technical = limits.technical
    stream_config = {
        "session": sid,
        "cursor": str(cursor),
        "traceIndex": figures.TRACE_INDEX,
        "eventTrace": figures.EVENT_TRACE,
        "labelTrace": figures.LABEL_TRACE,
        "eventSpan": list(figures.EVENT_SPAN),
        "maxPoints": max_points(config.window),
        "staleS": {
            "nibp": technical.nibp_overdue_s or 17 * 60,
            "continuous": technical.signal_loss_s,
        },
        "nibp": list(NIBP_CODES),
        "doseKinds": list(DOSE_KINDS),
        "audioPauseS": AUDIO_PAUSE_S,
        "reminderS": REMINDER_S,
        "sessionType": info.session_type,
    }
    dose = next((e for e in events if e.kind in DOSE_KINDS), None)
    latest_data = {
        "v": {code: [figures.display_ms(r.time, tz), r.value] for code, r in latest.items() if code in VITALS},
        "dose": None if dose is None else figures.display_ms(dose.time, tz),
        "k": clock_payload(info, tz),
    }
    alarms = [alarm_payload(a, tz) for a in store.alarms.since(sid) if a.rev <= cursor.alarm]
    return {
        "info": info, "figure": figure.to_dict(), "stream_config": stream_config, "latest": latest_data,
        "alarms": alarms, "limits": limits, "limits_version": store.limits.version(sid),
        "audit": audit_rows(store.audit.entries(session_id=sid), tz), "session": session,
    }


def create_app(config: DashboardConfig) -> Dash:
    app = Dash(__name__, title="Vigil", update_title=None, serve_locally=True)
    register_stream(app.server, config.store, config.display_tz)
    # Past sessions list every session, so they show in this machine's zone, not this bed's display zone.
    history = create_history_app(app.server, config.store, local_zone())
    audit = create_audit_app(app.server, config.store, local_zone())
    users = create_users_app(app.server, config.store, local_zone())
    register_report_routes(app.server, config.store, local_zone())

    def serve_layout():  # a function: each page load reads the store afresh, for the user asking
        state = initial_state(config)
        info = state["info"]
        actor = current_actor()
        return bed_view(
            bed=info.bed, session_name=info.name, figure=state["figure"],
            stream_config=state["stream_config"], latest=state["latest"], alarms=state["alarms"],
            session=state["session"], session_strip=session_strip(session_type(info.session_type), info.id),
            session_panel=session_panel(info.session_type, info.patient_label, info.bed, state["limits"].preset,
                                        editable=actor.can(Permission.SETUP)),
            dialogs=[gate_modal(), end_modal()],
            limits_panel=editor(state["limits"], state["limits_version"], editable=actor.can(Permission.LIMITS)),
            audit=state["audit"],
            replay_speed=None if config.runner is None else speed_label(config.runner.source.speed),
            user=user_badge(actor),
            hidden=sorted(p.value for p in Permission if not actor.can(p)),
        )

    app.layout = serve_layout
    register_live_callbacks(app)
    register_alarm_callbacks(app, config)
    register_limits_callbacks(app, config.store, config.session_id, config.display_tz)
    register_session_callbacks(app, config.store, config.session_id, config.display_tz)
    register_session_render(app)
    if config.runner is not None:
        register_replay_callbacks(app, config.runner)
    auth.install(app.server, config.store, config.auth, [app, history, audit, users], config.operator)
    return app


def user_badge(actor: auth.Actor) -> list:
    """Who is signed in and a sign-out button; or, with sign-in off, a badge saying so."""
    if actor is auth.NOBODY:
        return []
    if not auth.sign_in_required():
        return [html.Span(auth.no_login_label(), id="no-login-badge", className="no-login-badge")]
    return [
        html.Span(f"{actor.name} ({actor.role})", id="signed-in-as", className="signed-in-as"),
        html.Form(action="/logout", method="POST", className="sign-out-form", children=[
            dcc.Input(type="hidden", name="_csrf_token", value=auth.csrf_token()),
            html.Button("Sign out", id="sign-out", type="submit", className="sign-out"),
        ]),
    ]


def register_live_callbacks(app: Dash) -> None:
    app.clientside_callback(
        ClientsideFunction("vigil", "connect"),
        Output("link-status", "children"),
        Input("stream-config", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("vigil", "applyLatest"),
        Output("latest", "data"),
        Input("stream-tick", "data"),
        State("latest", "data"),
        State("stream-config", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("vigil", "applyTrend"),
        Output("trend", "extendData"),
        Input("trend-tick", "data"),
        State("stream-config", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("vigil", "render"),
        Output("num-bp", "children"), Output("num-map", "children"), Output("age-bp", "children"),
        Output("num-hr", "children"), Output("age-hr", "children"),
        Output("num-spo2", "children"), Output("age-spo2", "children"),
        Output("num-pr", "children"), Output("age-pr", "children"),
        Output("num-rr", "children"), Output("age-rr", "children"),
        Output("tile-bp", "className"), Output("tile-hr", "className"), Output("tile-spo2", "className"),
        Output("tile-pr", "className"), Output("tile-rr", "className"),
        Output("elapsed", "children"), Output("clock-text", "children"),
        Input("latest", "data"),
        Input("clock-tick", "n_intervals"),
        Input("alarm-tick", "data"),
        State("stream-config", "data"),
    )


def register_session_render(app: Dash) -> None:
    """Countdown, next checkpoint and the session's buttons, from the session facts and the clock."""
    app.clientside_callback(
        ClientsideFunction("vigilSession", "render"),
        Output("next-checkpoint", "children"), Output("next-checkpoint", "className"),
        Output("observation", "children"), Output("session-patient", "children"),
        Output("checkpoint-list", "children"), Output("baseline-box", "children"),
        Output({"type": "dose-btn", "kind": ALL}, "disabled"), Output("end-button", "disabled"),
        Input("session-state", "data"),
        Input("clock-tick", "n_intervals"),
        Input("latest", "data"),
        State({"type": "dose-btn", "kind": ALL}, "id"),
    )


def register_alarm_callbacks(app: Dash, config: DashboardConfig) -> None:
    """The banner, sound and history are drawn in the browser; acknowledging is a server action."""
    app.clientside_callback(
        ClientsideFunction("vigilAlarms", "renderAlarms"),
        Output("alarm-banner", "children"), Output("alarm-bar", "className"),
        Output("audio-pause", "children"), Output("sound-toggle", "children"), Output("sound-toggle", "className"),
        Output("sound-toggle", "color"), Output("alarm-history", "rowData"),
        Input("alarm-tick", "data"),
        Input("clock-tick", "n_intervals"),
        Input("audio-pause", "n_clicks"),
        Input("sound-toggle", "n_clicks"),
        State("alarms-initial", "data"),
        State("stream-config", "data"),
    )

    @app.callback(
        Output("audit-grid", "rowData", allow_duplicate=True),
        Input("ack-button", "n_clicks"),
        prevent_initial_call=True,
    )
    @require(Permission.ACKNOWLEDGE)
    def acknowledge(_clicks: int) -> list[dict]:
        store, sid = config.store, config.session_id
        wall = datetime.now(UTC)
        store.alarms.acknowledge(sid, current_actor().name, wall, store.sessions.info(sid).clock_now(wall))
        return audit_rows(store.audit.entries(session_id=sid), config.display_tz)

    @app.callback(
        Output("audit-grid", "rowData", allow_duplicate=True),
        Input("panels", "value"),
        prevent_initial_call=True,
    )
    @require(Permission.VIEW)
    def refresh_audit(panel: str | None) -> list[dict]:
        if panel != "audit":
            return no_update
        return audit_rows(config.store.audit.entries(session_id=config.session_id), config.display_tz)


def register_replay_callbacks(app: Dash, runner: ReplayRunner) -> None:
    app.clientside_callback(
        ClientsideFunction("vigil", "replayBar"),
        Output("replay-position", "children"), Output("replay-seek", "max"), Output("replay-seek", "value"),
        Output("replay-play", "children"),
        Input("latest", "data"),
        Input("clock-tick", "n_intervals"),
        State("replay-seek", "value"),
    )
    app.clientside_callback(
        ClientsideFunction("vigil", "seekFilter"),
        Output("seek-request", "data"),
        Input("replay-seek", "value"),
        prevent_initial_call=True,
    )

    @app.callback(Input("replay-play", "n_clicks"), prevent_initial_call=True)
    @require(Permission.REPLAY)
    def toggle_play(_clicks: int) -> None:
        if runner.source.paused:
            runner.resume()
        else:
            runner.pause()

    @app.callback(Input("replay-speed", "value"), prevent_initial_call=True)
    @require(Permission.REPLAY)
    def change_speed(value: str | None) -> None:
        if value is None:
            return
        try:
            speed = parse_speed(value)
        except ValueError:  # the control offers none such
            auth.refuse_request(f"no replay speed {value!r}")
        if speed != runner.source.speed:
            runner.set_speed(value)

    @app.callback(Input("seek-request", "data"), prevent_initial_call=True)
    @require(Permission.REPLAY)
    def seek(seconds: float | None) -> None:
        if seconds is None:
            return
        slider_max = max(1, round((runner.source.end - runner.source.start).total_seconds()))  # as vigil.js sets it
        if not 0 <= seconds <= slider_max:
            auth.refuse_request(f"no replay position {seconds} s")
        runner.seek(runner.source.start + timedelta(seconds=seconds))


def speed_label(speed: float) -> str:
    return "max" if speed == MAX_SPEED else f"{speed:g}"
