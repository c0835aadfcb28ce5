"""Server callbacks of the session workflow: thin wrappers over `monitor.session.service`.

Each one acts at the session clock's "now" in the name of the signed-in user, if their role allows it
(else 403), and answers with a message; a refused action changes nothing and says why. What changed reaches every open
tab through the stream (the session facts, the events, the limits), not through these outputs.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from monitor.auth.roles import Permission
from monitor.session import amend, service
from monitor.store import Store
from monitor.web.auth import current_actor, record_refusal, require
from monitor.web.bed import ids
from monitor.web.bed.session_view import readiness_view
from monitor.web.bed.shown import SHOWN, shown_session


def _clock_text(t: datetime, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%H:%M:%S")


def register_session_callbacks(app: Dash, store: Store, tz: tzinfo) -> None:
    """Set-up, dose events (with the BP gate) and their corrections, notes and ending the session the page shows."""
    register_setup(app, store)
    register_doses(app, store, tz)
    register_amend(app, store, tz)
    register_notes(app, store, tz)
    register_end(app, store, tz)


def register_setup(app: Dash, store: Store) -> None:
    @app.callback(
        Output(ids.SETUP_MESSAGE, "children"),
        Input(ids.SETUP_SAVE, "n_clicks"),
        State(ids.SETUP_TYPE, "value"), State(ids.SETUP_PATIENT, "value"), State(ids.SETUP_BED, "value"),
        State(ids.SETUP_PRESET, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.SETUP)
    def save_setup(_n: int, type_name: str, patient: str | None, bed: str | None, preset: str | None, shown: int
                   ) -> str:
        try:
            changed = service.set_up(store, shown_session(store, shown), current_actor().name, datetime.now(UTC),
                                     type_name=type_name, patient_label=patient or "", bed=bed or "", preset=preset)
        except service.Refused as exc:
            return f"Not saved: {exc}"
        return f"Saved: {', '.join(changed)}" if changed else "Nothing changed"


def enter_dose(store: Store, session_id: int, tz: tzinfo, kind: str, reason: str | None
               ) -> tuple[str, bool, list | object, object]:
    """Enter a dose event as the signed-in user: (message, gate dialog open, gate findings, kind waiting for the
    gate)."""
    actor = current_actor()
    try:
        event = service.enter_dose(store, session_id, actor.name, datetime.now(UTC), kind, reason,
                                   may_override=actor.can(Permission.OVERRIDE))
    except service.GateAdvisory as exc:
        return "", True, exc.gate.findings, kind
    except service.OverrideRefused as exc:
        record_refusal(actor, Permission.OVERRIDE, f"proceed past the BP gate: {kind}")
        return f"Not entered: {exc}", True, no_update, no_update
    except service.Refused as exc:
        return f"Not entered: {exc}", False, no_update, no_update
    return (f"{service.EVENT_NAMES[kind]} entered at {_clock_text(event.time, tz)} by {actor.name}", False,
            no_update, None)


def register_doses(app: Dash, store: Store, tz: tzinfo) -> None:
    """A dose button, and the gate dialog it opens when the pre-dose BP gate has a finding."""
    @app.callback(
        Output(ids.SESSION_MESSAGE, "children", allow_duplicate=True),
        Output(ids.GATE_MODAL, "opened", allow_duplicate=True),
        Output(ids.GATE_FINDINGS, "children"),
        Output(ids.GATE_KIND, "data"),
        Input(ids.dose_button(ALL), "n_clicks"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.EVENTS)
    def dose_clicked(clicks: list[int], shown: int) -> tuple:
        if not ctx.triggered_id or not any(clicks):
            return no_update, no_update, no_update, no_update
        kind = ctx.triggered_id["kind"]
        message, opened, findings, kind = enter_dose(store, shown_session(store, shown), tz, kind, None)
        if isinstance(findings, list):
            findings = html.Ul([html.Li(f) for f in findings])
        return message, opened, findings, kind

    @app.callback(
        Output(ids.SESSION_MESSAGE, "children", allow_duplicate=True),
        Output(ids.GATE_MODAL, "opened", allow_duplicate=True),
        Output(ids.GATE_MESSAGE, "children"),
        Input(ids.GATE_PROCEED, "n_clicks"),
        State(ids.GATE_KIND, "data"), State(ids.GATE_REASON, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.EVENTS)
    def proceed(_n: int, kind: str | None, reason: str | None, shown: int) -> tuple:
        if not kind:
            return no_update, False, ""
        if not (reason or "").strip():
            return no_update, True, "A reason is needed to proceed."
        message, opened, _, _ = enter_dose(store, shown_session(store, shown), tz, kind, reason)
        return message, opened, "" if not opened else (message or "Not entered.")


def amend_event(store: Store, session_id: int, tz: tzinfo, withdraw: bool, event: str | None, time_text: str | None,
                reason: str | None) -> tuple[str, bool]:
    """Correct or withdraw an entered dose event as the signed-in user: (what happened or why not, whether it
    was done). A nurse, who enters events, is told that this needs a clinician, and the refusal audited."""
    actor = current_actor()
    if not (event or "").isdigit():
        return "Not changed: choose an entered event first.", False
    try:
        if withdraw:
            struck = amend.withdraw_event(store, session_id, int(event or 0), actor.name, datetime.now(UTC), reason,
                                          may_amend=actor.can(Permission.AMEND))
            return (f"{service.EVENT_NAMES[struck.event.kind]} at {_clock_text(struck.event.time, tz)} withdrawn "
                    f"by {actor.name}"), True
        corrected = amend.correct_event(store, session_id, int(event or 0), actor.name, datetime.now(UTC),
                                        time_text or "", reason, tz=tz, may_amend=actor.can(Permission.AMEND))
    except amend.AmendRefused as exc:
        record_refusal(actor, Permission.AMEND, "correct or withdraw an entered event")
        return f"Not changed: {exc}", False
    except service.Refused as exc:
        return f"Not changed: {exc}", False
    return (f"{service.EVENT_NAMES[corrected.event.kind]} corrected to {_clock_text(corrected.event.time, tz)} "
            f"by {actor.name}"), True


def register_amend(app: Dash, store: Store, tz: tzinfo) -> None:
    """The correction form: a new time for an entered dose event, or its withdrawal, with a reason."""
    @app.callback(
        Output(ids.AMEND_MESSAGE, "children"),
        Output(ids.AMEND_REASON, "value"),
        Output(ids.AMEND_TIME, "value"),
        Input(ids.AMEND_CORRECT, "n_clicks"), Input(ids.AMEND_WITHDRAW, "n_clicks"),
        State(ids.AMEND_EVENT, "value"), State(ids.AMEND_TIME, "value"), State(ids.AMEND_REASON, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.EVENTS)
    def amend_clicked(_correct: int, _withdraw: int, event: str | None, time_text: str | None,
                      reason: str | None, shown: int) -> tuple:
        withdraw = ctx.triggered_id == ids.AMEND_WITHDRAW
        message, done = amend_event(store, shown_session(store, shown), tz, withdraw, event, time_text, reason)
        return message, "" if done else no_update, "" if done else no_update


def register_notes(app: Dash, store: Store, tz: tzinfo) -> None:
    @app.callback(
        Output(ids.SESSION_MESSAGE, "children", allow_duplicate=True),
        Output(ids.NOTE_TEXT, "value"),
        Input(ids.NOTE_ADD, "n_clicks"),
        State(ids.NOTE_TEXT, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.NOTES)
    def add_note(_n: int, text: str | None, shown: int) -> tuple:
        who = current_actor().name
        try:
            event = service.enter_note(store, shown_session(store, shown), who, datetime.now(UTC), text or "")
        except service.Refused as exc:
            return f"Note not added: {exc}", no_update
        return f"Note added at {_clock_text(event.time, tz)} by {who}", ""


def register_end(app: Dash, store: Store, tz: tzinfo) -> None:
    """The end button opens the readiness summary; confirming ends the session (with an override if needed)."""
    @app.callback(
        Output(ids.END_MODAL, "opened", allow_duplicate=True),
        Output(ids.READINESS, "children"),
        Output(ids.END_MESSAGE, "children", allow_duplicate=True),
        Output(ids.SESSION_MESSAGE, "children", allow_duplicate=True),
        Input(ids.END_BUTTON, "n_clicks"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.END)
    def open_end(_n: int, shown: int) -> tuple:
        try:
            ready = service.discharge_readiness(store, shown_session(store, shown), datetime.now(UTC))
        except service.Refused as exc:
            return False, no_update, "", f"Cannot end: {exc}"
        items = [(i.label, i.ok, i.detail) for i in ready.items]
        return True, readiness_view(items, ready.refusal), "", ""

    @app.callback(
        Output(ids.END_MODAL, "opened", allow_duplicate=True),
        Output(ids.END_MESSAGE, "children", allow_duplicate=True),
        Output(ids.SESSION_MESSAGE, "children", allow_duplicate=True),
        Input(ids.END_CONFIRM, "n_clicks"),
        State(ids.OVERRIDE_REASON, "value"), State(ids.READY_MIN, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.END)
    def confirm_end(_n: int, reason: str | None, ready_min: float | str | None, shown: int) -> tuple:
        try:
            ready_value = None if ready_min in (None, "") else float(ready_min)
        except ValueError:
            return True, f"Not ended: {ready_min!r} is not a number of minutes.", no_update
        actor = current_actor()
        try:
            ready = service.end_session(store, shown_session(store, shown), actor.name, datetime.now(UTC),
                                        override_reason=reason, ready_min=ready_value,
                                        may_override=actor.can(Permission.OVERRIDE))
        except service.OverrideRefused as exc:
            record_refusal(actor, Permission.OVERRIDE, "end session")
            return True, str(exc), no_update
        except service.Refused as exc:
            return True, str(exc), no_update
        how = " (override recorded)" if ready.needs_override else ""
        return False, "", f"Session ended at {_clock_text(ready.now, tz)} by {actor.name}{how}"
