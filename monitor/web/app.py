"""Dash app factory for the bed view, and the server it and the other pages share.

Data flow: the page is built from the store on load (`bed.state`: a bounded window, cursor taken first so
nothing is missed or doubled); afterwards the stream (`urls.STREAM`) pushes only what is new, and clientside
callbacks (`bed.clientside`, assets/vigil.js) extend the trend and refresh the numerics, and
assets/vigil_alarms.js turns alarm changes into the banner, tile colours and sound. Server callbacks are user
actions only: replay controls (to the in-process runner), acknowledging alarms and editing limits (to the store).
Every path the server answers is in `urls`; every component id of the bed view in `bed.ids`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo

import dash_mantine_components as dmc
from dash import Dash

from monitor.auth.roles import Permission
from monitor.runtime.replay import ReplayRunner
from monitor.session.types import session_type
from monitor.store import Store
from monitor.timeutil import local_zone
from monitor.web import auth, http_cache
from monitor.web.audit import create_audit_app, register_audit_tab
from monitor.web.auth import AuthSettings, current_actor
from monitor.web.bed.alarm_view import register_acknowledge
from monitor.web.bed.clientside import register_clientside_callbacks
from monitor.web.bed.layout import bed_view, user_badge
from monitor.web.bed.limits_editor import editor, register_limits_callbacks
from monitor.web.bed.replay import register_replay_callbacks, speed_label
from monitor.web.bed.session_callbacks import register_session_callbacks
from monitor.web.bed.session_view import end_modal, gate_modal, session_panel, session_strip
from monitor.web.bed.state import initial_state
from monitor.web.bed.trend_view import register_trend_callbacks
from monitor.web.bed.vitals_table import register_table_callback
from monitor.web.history import create_history_app
from monitor.web.report_routes import register_report_routes
from monitor.web.stream import register_stream
from monitor.web.users import create_users_app


@dataclass
class DashboardConfig:
    """One bed view: `session` names the session it shows, asked afresh on every page load (a bed's session
    changes; the app is never bound to one), and each page acts on the session it was built for (`bed.shown`)."""

    store: Store
    session: Callable[[], int]
    display_tz: tzinfo = UTC
    window: timedelta = timedelta(hours=1)
    runner: ReplayRunner | None = None  # replay controls appear only when a replay runs in-process
    operator: str = "operator"  # who the audit trail names for changes made here when sign-in is off
    auth: AuthSettings = field(default_factory=AuthSettings)  # sign-in required unless told otherwise


def create_app(config: DashboardConfig) -> Dash:
    # compress: every response of a type Flask-Compress lists goes compressed (not the stream's, text/event-stream):
    # a first page load moves 2.7 MB instead of 9.8 MB. Which of them a browser may keep is `http_cache`'s.
    app = Dash(__name__, title="Vigil", update_title=None, serve_locally=True,  # type: ignore[arg-type]  # None is allowed
               compress=True)
    register_stream(app.server, config.store, config.display_tz)
    # Past sessions list every session, so they show in this machine's zone, not this bed's display zone.
    history = create_history_app(app.server, config.store, local_zone())
    audit = create_audit_app(app.server, config.store, local_zone())
    users = create_users_app(app.server, config.store, local_zone())
    register_report_routes(app.server, config.store, local_zone())
    app.layout = lambda: serve_layout(config)  # a function: each page load reads the store afresh

    store, tz = config.store, config.display_tz
    register_clientside_callbacks(app)
    register_acknowledge(app, store, tz)
    register_audit_tab(app, store, tz)
    register_limits_callbacks(app, store, tz)
    register_session_callbacks(app, store, tz)
    register_trend_callbacks(app, store, tz)
    register_table_callback(app, store, tz)
    if config.runner is not None:
        register_replay_callbacks(app, config.runner)
    apps = [app, history, audit, users]
    auth.install(app.server, config.store, config.auth, apps, config.operator)
    http_cache.install(app.server, apps)
    return app


def serve_layout(config: DashboardConfig) -> dmc.MantineProvider:
    """The bed view for the user asking: read from the store now, with the controls their role may use."""
    state = initial_state(config.store, config.session(), config.display_tz, config.window)
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
