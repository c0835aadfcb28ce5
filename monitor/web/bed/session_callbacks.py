"""Server callbacks of the session workflow: thin wrappers over `monitor.session.service`.

Each one acts at the session clock's "now" in the name of the signed-in user, if their role allows it
(else 403), and answers with a message; a refused action changes nothing and says why. What changed reaches every open
tab through the stream (the session facts, the events, the limits), not through these outputs.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from monitor.auth.roles import Permission
from monitor.session import service
from monitor.store import Store
from monitor.web.auth import current_actor, record_refusal, require
from monitor.web.bed.session_view import readiness_view


def _clock_text(t: datetime, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%H:%M:%S")


def register_session_callbacks(app: Dash, store: Store, session_id: int, tz: tzinfo) -> None:
    @app.callback(
        Output("setup-message", "children"),
        Input("setup-save", "n_clicks"),
        State("setup-type", "value"), State("setup-patient", "value"), State("setup-bed", "value"),
        State("setup-preset", "value"),
        prevent_initial_call=True,
    )
    @require(Permission.SETUP)
    def save_setup(_n: int, type_name: str, patient: str | None, bed: str | None, preset: str | None) -> str:
        try:
            changed = service.set_up(store, session_id, current_actor().name, datetime.now(UTC), type_name=type_name,
                                     patient_label=patient or "", bed=bed or "", preset=preset)
        except service.Refused as exc:
            return f"Not saved: {exc}"
        return f"Saved: {', '.join(changed)}" if changed else "Nothing changed"

    def dose(kind: str, reason: str | None) -> tuple[str, bool, list | object, object]:
        """(message, gate dialog open, gate findings, kind waiting for the gate)."""
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

    @app.callback(
        Output("session-message", "children", allow_duplicate=True),
        Output("gate-modal", "opened", allow_duplicate=True),
        Output("gate-findings", "children"),
        Output("gate-kind", "data"),
        Input({"type": "dose-btn", "kind": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    @require(Permission.EVENTS)
    def dose_clicked(clicks: list[int]) -> tuple:
        if not ctx.triggered_id or not any(clicks):
            return no_update, no_update, no_update, no_update
        message, opened, findings, kind = dose(ctx.triggered_id["kind"], None)
        if isinstance(findings, list):
            findings = html.Ul([html.Li(f) for f in findings])
        return message, opened, findings, kind

    @app.callback(
        Output("session-message", "children", allow_duplicate=True),
        Output("gate-modal", "opened", allow_duplicate=True),
        Output("gate-message", "children"),
        Input("gate-proceed", "n_clicks"),
        State("gate-kind", "data"), State("gate-reason", "value"),
        prevent_initial_call=True,
    )
    @require(Permission.EVENTS)
    def proceed(_n: int, kind: str | None, reason: str | None) -> tuple:
        if not kind:
            return no_update, False, ""
        if not (reason or "").strip():
            return no_update, True, "A reason is needed to proceed."
        message, opened, _, _ = dose(kind, reason)
        return message, opened, "" if not opened else (message or "Not entered.")

    @app.callback(
        Output("session-message", "children", allow_duplicate=True),
        Output("note-text", "value"),
        Input("note-add", "n_clicks"),
        State("note-text", "value"),
        prevent_initial_call=True,
    )
    @require(Permission.NOTES)
    def add_note(_n: int, text: str | None) -> tuple:
        who = current_actor().name
        try:
            event = service.enter_note(store, session_id, who, datetime.now(UTC), text or "")
        except service.Refused as exc:
            return f"Note not added: {exc}", no_update
        return f"Note added at {_clock_text(event.time, tz)} by {who}", ""

    @app.callback(
        Output("end-modal", "opened", allow_duplicate=True),
        Output("readiness", "children"),
        Output("end-message", "children", allow_duplicate=True),
        Output("session-message", "children", allow_duplicate=True),
        Input("end-button", "n_clicks"),
        prevent_initial_call=True,
    )
    @require(Permission.END)
    def open_end(_n: int) -> tuple:
        try:
            ready = service.discharge_readiness(store, session_id, datetime.now(UTC))
        except service.Refused as exc:
            return False, no_update, "", f"Cannot end: {exc}"
        items = [(i.label, i.ok, i.detail) for i in ready.items]
        return True, readiness_view(items, ready.refusal), "", ""

    @app.callback(
        Output("end-modal", "opened", allow_duplicate=True),
        Output("end-message", "children", allow_duplicate=True),
        Output("session-message", "children", allow_duplicate=True),
        Input("end-confirm", "n_clicks"),
        State("override-reason", "value"), State("ready-min", "value"),
        prevent_initial_call=True,
    )
    @require(Permission.END)
    def confirm_end(_n: int, reason: str | None, ready_min: float | str | None) -> tuple:
        try:
            ready_value = None if ready_min in (None, "") else float(ready_min)
        except ValueError:
            return True, f"Not ended: {ready_min!r} is not a number of minutes.", no_update
        actor = current_actor()
        try:
            ready = service.end_session(store, session_id, actor.name, datetime.now(UTC), override_reason=reason,
                                        ready_min=ready_value, may_override=actor.can(Permission.OVERRIDE))
        except service.OverrideRefused as exc:
            record_refusal(actor, Permission.OVERRIDE, "end session")
            return True, str(exc), no_update
        except service.Refused as exc:
            return True, str(exc), no_update
        how = " (override recorded)" if ready.needs_override else ""
        return False, "", f"Session ended at {_clock_text(ready.now, tz)} by {actor.name}{how}"
