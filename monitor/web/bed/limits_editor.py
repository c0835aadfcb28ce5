"""The clinician's limits editor: load a preset, edit any value, see what is wrong, apply.

Every keystroke is validated on the server with the same `parse_limits` that loads TOML files, so
the editor can never accept what a file would refuse; the field the message names is marked. Apply
saves a new limits version (audited old → new per value) effective at the session clock's "now";
the live engine picks it up from the store and every open tab redraws its bands from the stream.
An invalid set is never saved: nothing changes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import dash_mantine_components as dmc
from dash import ALL, Dash, Input, Output, State, html, no_update

from adapters.model.vitals import VITAL_CODES, VITALS
from monitor.auth.roles import Permission
from monitor.limits.model import PRESETS, THRESHOLD_KEYS, Limits, LimitsError, load_preset, parse_limits
from monitor.store import SessionEnded, Store
from monitor.web.audit import audit_rows
from monitor.web.auth import current_actor, require
from monitor.web.bed import ids
from monitor.web.bed.shown import SHOWN, shown_session

VALUE_KEYS = (*THRESHOLD_KEYS, "rise", "delay_s")
COLUMNS = (*VALUE_KEYS, "baseline")
HEADERS = {"critical_low": "Critical low", "low": "Low", "high": "High", "critical_high": "Critical high",
           "rise": "Rise over baseline", "delay_s": "Delay s", "baseline": "Fixed baseline"}
TECHNICAL = (("signal_loss_s", "Signal loss after (s)"), ("nibp_overdue_s", "NIBP overdue after (s)"))


def field_values(limits: Limits) -> dict[str, float | None]:
    """The editor's fields as `vital.key` (and `technical.key`) → value."""
    values: dict[str, float | None] = {}
    for code in VITAL_CODES:
        lim = limits.for_vital(code)
        for key in VALUE_KEYS:
            values[f"{code}.{key}"] = getattr(lim, key)
        values[f"{code}.baseline"] = limits.baseline.get(code)
    for key, _ in TECHNICAL:
        values[f"technical.{key}"] = getattr(limits.technical, key)
    return values


def limits_from_fields(ids: list[dict], values: list[Any], preset: str | None) -> Limits:
    """Build and validate limits from the fields; a blank field means "no such limit"."""
    data: dict[str, dict] = {"vitals": {}, "technical": {}, "baseline": {}}
    for field_id, value in zip(ids, values, strict=True):
        if value is None or value == "":
            continue
        group, key = field_id["group"], field_id["key"]
        if group == "technical":
            data["technical"][key] = value
        elif key == "baseline":
            data["baseline"][group] = value
        else:
            data["vitals"].setdefault(group, {})[key] = value
    return replace(parse_limits(data, Limits()), preset=preset)


def _input(group: str, key: str, value: float | None, disabled: bool = False, read_only: bool = False
           ) -> dmc.NumberInput:
    return dmc.NumberInput(
        id=ids.limit_field(group, key), value=_blank_if_none(value), size="xs", w=96,
        allowDecimal=True, hideControls=True, disabled=disabled, readOnly=read_only, placeholder="—",
        **{"aria-label": f"{group} {HEADERS.get(key, key)}"},
    )


def editor(limits: Limits, version: int, editable: bool = True) -> html.Div:
    """`editable` False (a role that may not change limits): the same table, read-only, and no Apply."""
    values = field_values(limits)
    header = html.Tr([html.Th("Vital"), *[html.Th(HEADERS[c]) for c in COLUMNS]])
    rows = [
        html.Tr([
            html.Td(f"{VITALS[code].label} ({VITALS[code].unit})"),
            *[html.Td(_input(code, key, values[f"{code}.{key}"], key == "delay_s" and not VITALS[code].continuous,
                             read_only=not editable))
              for key in COLUMNS],
        ])
        for code in VITAL_CODES
    ]
    technical = [
        html.Div([html.Span(label, className="limits-tech-label"),
                  _input("technical", key, values[f"technical.{key}"], read_only=not editable)],
                 className="limits-tech")
        for key, label in TECHNICAL
    ]
    return html.Div(
        className="limits-editor",
        children=[
            html.Div(className="limits-top", children=[
                dmc.Select(id=ids.LIMITS_PRESET, label="Start from preset", data=list(PRESETS), value=None,
                           placeholder=limits.preset or "choose…", w=200, size="sm", disabled=not editable,
                           comboboxProps={"withinPortal": False}),
                html.Div(f"In force: version {version}" + (f" (from preset {limits.preset})" if limits.preset else ""),
                         id=ids.LIMITS_VERSION, className="limits-version"),
            ]),
            html.P("Alarm when a value is above High / below Low (a value equal to a limit is in range). "
                   "Critical limits raise high-priority alarms; a rise over the pre-dose baseline raises a "
                   "low-priority one. Leave a field blank for no limit.", className="limits-help"),
            html.Table([html.Thead(header), html.Tbody(rows)], className="limits-table"),
            html.Div(technical, className="limits-tech-row"),
            html.Div(className="limits-actions", children=[
                dmc.Button("Apply limits", id=ids.LIMITS_APPLY, color="blue", n_clicks=0, className="needs-limits"),
                *([] if editable else [html.Span("Read-only: only a clinician can change limits.",
                                                 id=ids.LIMITS_READ_ONLY, className="limits-read-only")]),
                html.Div("", id=ids.LIMITS_MESSAGE, className="limits-message", role="alert"),
            ]),
        ],
    )


FIELDS = ids.limit_field(ALL, ALL)


def register_limits_callbacks(app: Dash, store: Store, tz: Any) -> None:
    """Loading a preset and checking each change in the browser's fields; applying them to the store."""
    register_field_callbacks(app)
    register_apply(app, store, tz)


def register_field_callbacks(app: Dash) -> None:
    @app.callback(
        Output(FIELDS, "value"),
        Input(ids.LIMITS_PRESET, "value"),
        State(FIELDS, "id"),
        prevent_initial_call=True,
    )
    @require(Permission.LIMITS)
    def load_preset_fields(preset: str | None, field_ids: list[dict]) -> list:
        if preset is None:
            return [no_update] * len(field_ids)
        values = field_values(load_preset(preset))
        # "" rather than None: Mantine keeps showing the old number when given null
        return [_blank_if_none(values[f"{i['group']}.{i['key']}"]) for i in field_ids]

    @app.callback(
        Output(FIELDS, "error"),
        Output(ids.LIMITS_MESSAGE, "children"),
        Output(ids.LIMITS_MESSAGE, "className"),
        Output(ids.LIMITS_APPLY, "disabled"),
        Input(FIELDS, "value"),
        State(FIELDS, "id"),
        State(ids.LIMITS_PRESET, "value"),
        prevent_initial_call=True,
    )
    @require(Permission.LIMITS)
    def validate(values: list, field_ids: list[dict], preset: str | None) -> tuple:
        try:
            limits_from_fields(field_ids, values, preset)
        except LimitsError as exc:
            return _errors_for(field_ids, exc), str(exc), "limits-message invalid", True
        return [None] * len(field_ids), "", "limits-message", False


def register_apply(app: Dash, store: Store, tz: Any) -> None:
    @app.callback(
        Output(ids.LIMITS_MESSAGE, "children", allow_duplicate=True),
        Output(ids.LIMITS_MESSAGE, "className", allow_duplicate=True),
        Output(ids.LIMITS_VERSION, "children"),
        Output(ids.AUDIT_GRID, "rowData", allow_duplicate=True),
        Input(ids.LIMITS_APPLY, "n_clicks"),
        State(FIELDS, "value"),
        State(FIELDS, "id"),
        State(ids.LIMITS_PRESET, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.LIMITS)
    def apply(_clicks: int, values: list, field_ids: list[dict], preset: str | None, shown: int) -> tuple:
        session_id = shown_session(store, shown)
        current = store.limits.current(session_id) or {}
        try:
            limits = limits_from_fields(field_ids, values, preset or current.get("preset"))
        except LimitsError as exc:  # validation ran first, but a forged or raced request lands here
            return f"Not applied: {exc}", "limits-message invalid", no_update, no_update
        if limits.to_dict() == current:
            return "No change to apply.", "limits-message", no_update, no_update
        wall = datetime.now(UTC)
        effective = store.sessions.info(session_id).clock_now(wall) or wall
        who = current_actor().name
        try:
            version = store.limits.save(session_id, limits.to_dict(), effective, who=who)
        except SessionEnded:  # audited by the store
            return ("Not applied: the session has ended, and its record is closed.", "limits-message invalid",
                    no_update, audit_rows(store.audit.entries(session_id=session_id), tz))
        label = f"In force: version {version}" + (f" (from preset {limits.preset})" if limits.preset else "")
        rows = audit_rows(store.audit.entries(session_id=session_id), tz)
        return f"Applied: version {version} by {who}.", "limits-message applied", label, rows


def _blank_if_none(value: float | None) -> float | str:
    return "" if value is None else value


def field_path(field_id: dict) -> str:
    """The dotted name `parse_limits` uses for an editor field."""
    group, key = field_id["group"], field_id["key"]
    if group == "technical":
        return f"technical.{key}"
    return f"baseline.{group}" if key == "baseline" else f"vitals.{group}.{key}"


def _errors_for(ids: list[dict], error: LimitsError) -> list:
    """The message on each field the error concerns, nothing elsewhere."""
    return [str(error) if field_path(i) in error.keys else None for i in ids]
