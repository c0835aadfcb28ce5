"""Dash app factory for the bed view, and the server it and the other pages share.

Data flow: the page is built from the store on load (`bed.state`: a bounded window, cursor taken first so
nothing is missed or doubled); afterwards the stream (`urls.STREAM`) pushes only what is new, and clientside
callbacks (`bed.clientside`, assets/vigil.js) extend the trend and refresh the numerics, and
assets/vigil_alarms.js turns alarm changes into the banner, tile colours and sound. Server callbacks are user
actions only: replay controls (to the in-process runner), acknowledging alarms and editing limits (to the store).
Every path the server answers is in `urls`; every component id of the bed view in `bed.ids`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta, tzinfo

import dash_mantine_components as dmc
import flask
from dash import Dash

from monitor.auth.roles import Permission
from monitor.runtime.replay import ReplayRunner
from monitor.session.types import session_type
from monitor.store import Store
from monitor.timeutil import local_zone
from monitor.web import auth, http_cache, urls
from monitor.web.audit import create_audit_app, register_audit_tab
from monitor.web.auth import AuthSettings, current_actor
from monitor.web.bed.alarm_view import register_acknowledge
from monitor.web.bed.clientside import register_clientside_callbacks
from monitor.web.bed.layout import bed_view, user_badge
from monitor.web.bed.limits_editor import editor, in_force, register_limits_callbacks
from monitor.web.bed.replay import register_replay_callbacks, speed_label
from monitor.web.bed.session_callbacks import register_session_callbacks
from monitor.web.bed.session_view import end_modal, gate_modal, session_panel, session_strip
from monitor.web.bed.state import initial_state
from monitor.web.bed.trend_view import register_trend_callbacks
from monitor.web.bed.vitals_table import register_table_callback
from monitor.web.history import create_history_app
from monitor.web.report_routes import register_report_routes
from monitor.web.site.page import create_central_app, no_session_page
from monitor.web.site.remote import RemoteBeds
from monitor.web.site.stream import SiteBed, register_site_stream
from monitor.web.stream import register_stream
from monitor.web.users import create_users_app


@dataclass
class DashboardConfig:
    """One bed view: `session` names the session it shows, asked afresh on every page load (a bed's session
    changes; the app is never bound to one; None: a bed a chair computer acquires has had none yet), and each page
    acts on the session it was built for (`bed.shown`)."""

    store: Store
    session: Callable[[], int | None]
    display_tz: tzinfo = UTC
    window: timedelta = timedelta(hours=1)
    runner: ReplayRunner | None = None  # replay controls appear only when a replay runs in-process
    operator: str = "operator"  # who the audit trail names for changes made here when sign-in is off
    auth: AuthSettings = field(default_factory=AuthSettings)  # sign-in required unless told otherwise


def create_app(config: DashboardConfig) -> Dash:
    """One bed's view at the root of its own server, with the pages beside it."""
    app = _bed_app(flask.Flask(__name__), urls.BED_VIEW, config, compress=True)
    _install_shared(app.server, config.store, config.display_tz, [app], config.auth, config.operator)
    return app


def create_site_app(store: Store, beds: Sequence[tuple[str, str, DashboardConfig]], display_tz: tzinfo,
                    auth: AuthSettings, operator: str, name: str = "Vigil",
                    notices: Callable[[], list[str]] = list, remote: RemoteBeds | None = None) -> flask.Flask:
    """`vigil serve`: one server for every bed of a site, `(id, label, config)`, each bed's view a Dash app at
    `urls.site_bed(id)`, and the central view of them all (`site.page`, fed by `site.stream`) at `urls.SITE`,
    with the site's `notices` for the admin; `remote`: chair computers acquire the beds, not this process."""
    server = flask.Flask(__name__)
    apps = [_bed_app(server, urls.site_bed(bed_id), config, compress=i == 0)  # one Flask-Compress per server
            for i, (bed_id, _, config) in enumerate(beds)]
    site_beds = [SiteBed(bed_id, label, config.session) for bed_id, label, config in beds]
    central = create_central_app(server, name, site_beds)
    register_site_stream(server, store, site_beds, display_tz, notices, remote)
    _install_shared(server, store, display_tz, [central, *apps], auth, operator)
    return server


def _bed_app(server: flask.Flask, prefix: str, config: DashboardConfig, *, compress: bool) -> Dash:
    """A bed view on `server` at `prefix`, its page read afresh from the store on each load."""
    # compress: every response of a type Flask-Compress lists goes compressed (not the stream's, text/event-stream):
    # a first page load moves 2.7 MB instead of 9.8 MB. Which of them a browser may keep is `http_cache`'s.
    app = Dash(__name__, server=server, url_base_pathname=prefix, title="Vigil",  # type: ignore[arg-type]
               update_title=None, serve_locally=True, compress=compress)  # type: ignore[arg-type]  # None is allowed
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
    return app


def _install_shared(server: flask.Flask, store: Store, tz: tzinfo, bed_apps: list[Dash], sign_in: AuthSettings,
                    operator: str) -> None:
    """What every bed view on `server` shares: the stream, the pages beside them, the records, then sign-in and
    cache headers over all of it (installed last: they need every app's callbacks)."""
    register_stream(server, store, tz)
    # Past sessions list every session, so they show in this machine's zone, not this bed's display zone.
    history = create_history_app(server, store, local_zone())
    audit = create_audit_app(server, store, local_zone())
    users = create_users_app(server, store, local_zone())
    register_report_routes(server, store, local_zone())
    apps = [*bed_apps, history, audit, users]
    auth.install(server, store, sign_in, apps, operator)
    http_cache.install(server, apps)


def serve_layout(config: DashboardConfig) -> dmc.MantineProvider:
    """The bed view for the user asking: read from the store now, with the controls their role may use."""
    session_id = config.session()
    if session_id is None:
        return no_session_page()
    state = initial_state(config.store, session_id, config.display_tz, config.window)
    info = state["info"]
    actor = current_actor()
    return bed_view(
        bed=info.bed, session_name=info.name, figure=state["figure"],
        stream_config=state["stream_config"], latest=state["latest"], alarms=state["alarms"],
        session=state["session"], session_strip=session_strip(session_type(info.session_type), info.id),
        session_panel=session_panel(info.session_type, info.patient_label, info.bed, state["limits"].preset,
                                    editable=actor.can(Permission.SETUP)),
        dialogs=[gate_modal(), end_modal()],
        limits_panel=editor(in_force(config.store, info.id), editable=actor.can(Permission.LIMITS)),
        audit=state["audit"],
        replay_speed=None if config.runner is None else speed_label(config.runner.source.speed),
        user=user_badge(actor),
        hidden=sorted(p.value for p in Permission if not actor.can(p)),
    )
