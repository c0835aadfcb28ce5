"""The treatment session on the bed view: the session strip, the Session tab, the gate and end dialogs.

The server sends the session's facts (`session_payload`: type, anchor, checkpoint windows and what
satisfied them, baseline and gate, end) on page load and over the stream when they change; the
browser (assets/vigil_session.js) turns them into "BP at 40 min: due in 3 min" against the session
clock every second, with the same rules as `monitor.session.timeline`. The payload also carries the events in
force for the trend, which the browser redraws from it, so an event corrected or withdrawn moves or leaves the
trend on every open tab. Actions are server callbacks (monitor/web/bed/session_callbacks.py) that go through
`monitor.session.service` and `monitor.session.amend`.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import dash_mantine_components as dmc
from dash import dcc, html

from adapters.model.vitals import NIBP_CODES
from monitor.limits.model import PRESETS
from monitor.session.baseline import baseline, gate, nibp_measurements
from monitor.session.service import EVENT_NAMES
from monitor.session.timeline import countdown
from monitor.session.types import SESSION_TYPES, SessionType, session_type
from monitor.store import Store, StoredEvent
from monitor.web import urls
from monitor.web.bed import ids
from monitor.web.bed.figures import MAX_EVENTS, display_ms, trend_label

PEAK_FILL = "rgba(255, 171, 64, 0.12)"
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)  # every stored measurement counts; the browser times the rest


def peak_shapes(window: tuple[datetime, datetime] | None, tz: tzinfo) -> list[dict]:
    """The expected BP-peak window as a shaded band across the trend's panels."""
    if window is None:
        return []
    start, end = window
    return [{"type": "rect", "name": "peak-window", "xref": "x", "yref": "paper", "x0": display_ms(start, tz),
             "x1": display_ms(end, tz), "y0": 0, "y1": 1, "fillcolor": PEAK_FILL, "line": {"width": 0},
             "layer": "below", "label": {"text": "expected BP peak", "textposition": "top center",
                                         "font": {"size": 11, "color": "#ffab40"}}}]


def session_payload(store: Store, session_id: int, tz: tzinfo) -> dict:
    """The session's facts for the browser, times in display ms like readings."""
    info = store.sessions.info(session_id)
    stype = session_type(info.session_type)
    stored = store.samples.events_with_authors(session_id)
    events = [s.event for s in stored]
    measurements = nibp_measurements(store.samples.readings_of(session_id, NIBP_CODES))
    now = info.clock_now(datetime.now(UTC)) or (measurements[-1].time if measurements else None)
    # Everything stored counts as measured or entered; the browser decides what is due at its "now".
    timeline = countdown(stype, events, [m.time for m in measurements], FAR_FUTURE)
    anchor = timeline.anchor
    base = baseline([m for m in measurements if now is None or m.time <= now], anchor, now)

    def ms(t: datetime | None) -> int | None:
        return None if t is None else display_ms(t, tz)

    return {
        "type": stype.name, "typeLabel": stype.label, "patient": info.patient_label, "bed": info.bed,
        "anchor": ms(anchor), "anchorLabel": stype.anchor_label,
        "obsEnd": ms(timeline.observation_end),
        "obsMinimum": stype.min_observation_min is not None,
        "checkpoints": [
            {"label": s.checkpoint.label, "opens": ms(s.opens), "due": ms(s.due), "overdue": ms(s.overdue_at),
             "done": ms(s.done_at), "optional": s.checkpoint.optional}
            for s in timeline.states
        ],
        "entered": sorted({e.kind for e in events}),
        "doses": [{"kind": kind, "label": EVENT_NAMES[kind]} for kind in stype.dose_buttons],
        "amendable": amendable(stored, tz),
        "events": [[ms(e.time), e.kind, trend_label(e)] for e in events[-MAX_EVENTS:]],
        "baseline": {"count": len(base.measurements), "text": base.text,
                     "findings": list(gate(stype, base).findings), "fixed": base.fixed},
        "shapes": peak_shapes(timeline.peak_window, tz),
        "ended": ms(info.ended), "endedBy": info.ended_by,
    }


def amendable(stored: list[StoredEvent], tz: tzinfo) -> list[dict]:
    """The dose events entered on screen and in force, as the correction form's choices."""
    return [{"value": str(s.id), "label": f"{EVENT_NAMES[s.event.kind]} at "
             f"{s.event.time.astimezone(tz).strftime('%H:%M:%S')} (entered by {s.entered_by})"}
            for s in stored if s.entered_by is not None and s.event.kind in EVENT_NAMES]


def session_strip(stype: SessionType, session_id: int) -> html.Div:
    """Under the alarm bar: where the session stands, and the one-click dose events."""
    return html.Div(id=ids.SESSION_STRIP, className="session-strip", children=[
        html.Span(stype.label, id=ids.SESSION_TYPE, className="session-type"),
        html.Span("", id=ids.SESSION_PATIENT, className="session-patient"),
        html.Span("", id=ids.NEXT_CHECKPOINT, className="next-checkpoint"),
        html.Span("", id=ids.OBSERVATION, className="observation"),
        html.Div(className="session-actions", children=[
            *[dmc.Button(EVENT_NAMES[kind], id=ids.dose_button(kind), n_clicks=0, size="md",
                         color="teal", variant="outline", className="needs-events") for kind in stype.dose_buttons],
            html.Span("", id=ids.DOSE_HINT, className="dose-hint needs-events"),
            dmc.Button("End session", id=ids.END_BUTTON, n_clicks=0, size="md", color="orange", variant="outline",
                       className="needs-end"),
            html.A("Session record", href=urls.report_html(session_id), target="_blank", className="record-link"),
            html.A("PDF", href=urls.report_pdf(session_id), target="_blank", className="record-link"),
            html.A("History", href=urls.HISTORY, target="_blank", className="record-link"),
            html.A("Audit", href=urls.AUDIT, target="_blank", className="record-link needs-audit"),
            html.A("Users", href=urls.USERS, target="_blank", className="record-link needs-users"),
        ]),
        html.Div("", id=ids.SESSION_MESSAGE, className="session-message", role="status"),
    ])


def session_panel(info_type: str, patient: str, bed: str, preset: str | None, editable: bool = True) -> html.Div:
    """The Session tab: set-up (read-only unless `editable`: a clinician's), the pre-dose baseline and gate,
    the checkpoints, notes."""
    return html.Div(className="session-panel", children=[
        html.Div(className="setup-row", children=[
            dmc.Select(id=ids.SETUP_TYPE, label="Session type", value=info_type, w=230, size="sm",
                       data=[{"value": t.name, "label": t.label} for t in SESSION_TYPES.values()],
                       allowDeselect=False, comboboxProps={"withinPortal": False}, disabled=not editable),
            dmc.TextInput(id=ids.SETUP_PATIENT, label="Patient label (an identifier, not a name)", value=patient,
                          placeholder="e.g. chart number", w=280, size="sm", readOnly=not editable),
            dmc.TextInput(id=ids.SETUP_BED, label="Bed", value=bed, w=120, size="sm", readOnly=not editable),
            dmc.Select(id=ids.SETUP_PRESET, label="Limits preset", value=preset, data=list(PRESETS), w=170,
                       size="sm", placeholder="keep current", clearable=True, comboboxProps={"withinPortal": False},
                       disabled=not editable),
            dmc.Button("Save set-up", id=ids.SETUP_SAVE, n_clicks=0, color="blue", className="needs-setup"),
            html.Div("", id=ids.SETUP_MESSAGE, className="setup-message", role="status"),
        ]),
        html.Div(className="session-columns", children=[
            html.Div([html.H4("Pre-dose baseline"), html.Div(id=ids.BASELINE_BOX, className="baseline-box")]),
            html.Div([html.H4("Checkpoints"), html.Div(id=ids.CHECKPOINT_LIST, className="checkpoint-list")]),
            html.Div(className="needs-notes", children=[
                html.H4("Note"),
                dmc.Textarea(id=ids.NOTE_TEXT, placeholder="e.g. patient drowsy, responds to voice", autosize=True,
                             minRows=2, w=320),
                dmc.Button("Add note", id=ids.NOTE_ADD, n_clicks=0, color="gray", mt=6),
            ]),
            amend_form(),
        ]),
    ])


def amend_form() -> html.Div:
    """Correct the time of an entered dose event, or withdraw it, with a reason: a clinician's (the server
    refuses anyone else, saying so); the struck entry stays in the record."""
    return html.Div(className="needs-events amend-form", children=[
        html.H4("Correct an entered event"),
        dmc.Select(id=ids.AMEND_EVENT, label="Event", data=[], placeholder="choose a dose event", w=320,
                   size="sm", comboboxProps={"withinPortal": False}),
        dmc.TextInput(id=ids.AMEND_TIME, label="Correct time (HH:MM:SS)", placeholder="e.g. 09:05:00", w=200,
                      size="sm"),
        dmc.Textarea(id=ids.AMEND_REASON, label="Reason (required, recorded with your name)", autosize=True,
                     minRows=2, w=320),
        html.Div(className="amend-actions", children=[
            dmc.Button("Correct time", id=ids.AMEND_CORRECT, n_clicks=0, color="blue", size="sm"),
            dmc.Button("Withdraw", id=ids.AMEND_WITHDRAW, n_clicks=0, color="red", variant="outline", size="sm"),
        ]),
        html.Div("A clinician's correction; the original entry stays in the record.", className="amend-note"),
        html.Div("", id=ids.AMEND_MESSAGE, className="amend-message", role="alert"),
    ])


def gate_modal() -> dmc.Modal:
    return dmc.Modal(id=ids.GATE_MODAL, title="Pre-dose BP gate (advisory)", opened=False, size="lg", children=[
        html.Div(id=ids.GATE_FINDINGS, className="gate-findings"),
        dmc.Textarea(id=ids.GATE_REASON, label="Reason to proceed (recorded with your name)", autosize=True,
                     minRows=2),
        html.Div(className="modal-actions", children=[
            dmc.Button("Proceed", id=ids.GATE_PROCEED, n_clicks=0, color="orange"),
            html.Div("", id=ids.GATE_MESSAGE, className="modal-message", role="alert"),
        ]),
        dcc.Store(id=ids.GATE_KIND),
    ])


def end_modal() -> dmc.Modal:
    return dmc.Modal(id=ids.END_MODAL, title="End session", opened=False, size="lg", children=[
        html.Div(id=ids.READINESS, className="readiness"),
        dmc.Textarea(id=ids.OVERRIDE_REASON, label="Override reason (needed to end before the guard allows)",
                     autosize=True, minRows=2),
        dmc.NumberInput(id=ids.READY_MIN, label="Would have been ready to leave at (minutes after the dose, optional)",
                        min=0, allowDecimal=False, w=420),
        html.Div(className="modal-actions", children=[
            dmc.Button("End session now", id=ids.END_CONFIRM, n_clicks=0, color="orange"),
            html.Div("", id=ids.END_MESSAGE, className="modal-message", role="alert"),
        ]),
    ])


def readiness_view(items: list[tuple[str, bool | None, str]], refusal: str) -> list:
    """The readiness summary as the end dialog lists it; `refusal` says why an override is needed."""
    marks = {True: ("✔", "ok"), False: ("✘", "bad"), None: ("–", "na")}
    rows = [html.Div([html.Span(marks[ok][0], className=f"ready-mark {marks[ok][1]}"),
                      html.Span(label, className="ready-label"), html.Span(detail, className="ready-detail")],
                     className="ready-item") for label, ok, detail in items]
    verdict = (html.Div(f"Override needed: {refusal}", className="ready-refusal") if refusal
               else html.Div("The session may end now.", className="ready-ok"))
    return [*rows, verdict]
