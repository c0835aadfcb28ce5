"""The clinician's limits editor: load a preset, edit any value, see what is wrong, apply.

Every keystroke is validated on the server with the same `parse_limits` that loads TOML files, so
the editor can never accept what a file would refuse; the field the message names is marked, and the message
names fields as the table labels them ("SYS high"), not by their keys in a file. A field holds text: a blank one
means "no such limit", anything else must be a number ("abc" is an error, never a blank). Apply saves a new limits
version (audited old → new per value) effective at the session clock's "now"; the live engine picks it up from
the store, and every open tab follows it from the stream (`in_force`, assets/vigil_limits.js): its bands, its
version label and its fields — a user's unapplied edits are replaced by the new version, and the user told which
were. An invalid set, or one edited from a version no longer in force, is never saved: nothing changes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import dash_mantine_components as dmc
from dash import ALL, Dash, Input, Output, State, dcc, html, no_update

from adapters.model.vitals import VITAL_CODES, VITALS
from monitor.alarms.text import SHORT
from monitor.auth.roles import Permission
from monitor.limits.model import (
    PRESETS,
    THRESHOLD_KEYS,
    Limits,
    LimitsError,
    limits_from_stored,
    load_preset,
    parse_limits,
)
from monitor.store import SessionEnded, Store
from monitor.web.audit import audit_rows
from monitor.web.auth import current_actor, require
from monitor.web.bed import ids
from monitor.web.bed.clientside import named_clientside_callback
from monitor.web.bed.shown import SHOWN, shown_session

VALUE_KEYS = (*THRESHOLD_KEYS, "rise", "delay_s")
COLUMNS = (*VALUE_KEYS, "baseline")
HEADERS = {"critical_low": "Critical low", "low": "Low", "high": "High", "critical_high": "Critical high",
           "rise": "Rise over baseline", "delay_s": "Delay (s)", "baseline": "Fixed baseline"}
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


def field_texts(limits: Limits) -> dict[str, str]:
    """The editor's fields as they show `limits`: 179, not 179.0; blank for no limit."""
    return {name: "" if value is None else f"{value:g}" for name, value in field_values(limits).items()}


def screen_name(key: str) -> str:
    """A dotted limits key as the editor labels its field: `vitals.sbp.critical_high` → "SYS critical high"."""
    parts = key.split(".")
    if parts[0] == "technical":
        return dict(TECHNICAL).get(parts[1], key)
    code, name = (parts[1], parts[2]) if parts[0] == "vitals" else (parts[1], "baseline")
    return f"{SHORT.get(code, code)} {HEADERS.get(name, name).lower()}"


def in_force(store: Store, session_id: int) -> dict:
    """The limits version in force as the editor shows it: its number, its label (who set it) and its fields."""
    versions = store.limits.versions(session_id)
    if not versions:
        return {"version": 0, "preset": None, "label": "No limits set", "values": field_texts(Limits())}
    newest = versions[-1]
    limits = limits_from_stored(newest.data)
    preset = f" (from preset {limits.preset})" if limits.preset else ""
    return {"version": newest.version, "preset": limits.preset,
            "label": f"In force: version {newest.version}{preset}, set by {newest.who}",
            "values": field_texts(limits)}


def _number(field_id: dict, value: Any) -> float | None:
    """A field's value: None if blank; a number as typed; anything else is an error, never "no limit"."""
    text = str(value).strip() if value is not None else ""
    if text == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        return float(text)
    except ValueError:
        raise LimitsError("{0}: {text!r} is not a number (leave the field blank for no limit)",
                          (field_path(field_id),), text=text) from None


def limits_from_fields(ids: list[dict], values: list[Any], preset: str | None) -> Limits:
    """Build and validate limits from the fields; a blank field means "no such limit"."""
    data: dict[str, dict] = {"vitals": {}, "technical": {}, "baseline": {}}
    for field_id, value in zip(ids, values, strict=True):
        number = _number(field_id, value)
        if number is None:
            continue
        group, key = field_id["group"], field_id["key"]
        if group == "technical":
            data["technical"][key] = number
        elif key == "baseline":
            data["baseline"][group] = number
        else:
            data["vitals"].setdefault(group, {})[key] = number
    return replace(parse_limits(data, Limits()), preset=preset)


def _input(group: str, key: str, value: str, disabled: bool = False, read_only: bool = False) -> dmc.TextInput:
    """Text, not a number input: a number input drops what is not a number, and a dropped "abc" would read as
    a blank field — no limit. Here it stays, and is refused."""
    return dmc.TextInput(
        id=ids.limit_field(group, key), value=value, size="xs", w=96, inputProps={"inputMode": "decimal"},
        disabled=disabled, readOnly=read_only, placeholder="—",
        **{"aria-label": screen_name(field_path({"group": group, "key": key}))},
    )


def editor(shown: dict, editable: bool = True) -> html.Div:
    """The Limits tab for `shown` (`in_force`); `editable` False (a role that may not change limits): the same
    table, read-only, and no Apply."""
    values = shown["values"]
    header = html.Tr([html.Th("Vital"), *[html.Th(HEADERS[c]) for c in COLUMNS]])
    rows = [
        html.Tr([
            html.Td([html.B(SHORT[code]), f" {VITALS[code].label} ({VITALS[code].unit})"]),
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
                           placeholder=shown["preset"] or "choose…", w=200, size="sm", disabled=not editable,
                           comboboxProps={"withinPortal": False}),
                html.Div(shown["label"], id=ids.LIMITS_VERSION, className="limits-version"),
            ]),
            html.Div("", id=ids.LIMITS_NOTICE, className="limits-notice", role="alert"),
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
            dcc.Store(id=ids.LIMITS_SHOWN, data=shown),  # the version the fields were filled from
            dcc.Store(id=ids.LIMITS_IN_FORCE, data=shown),  # the version in force, from the stream
        ],
    )


FIELDS = ids.limit_field(ALL, ALL)

# vigil_limits.js `follow`: a new version in force fills the fields, its label, the preset shown, and says whose
# change replaced a user's unapplied edits.
FOLLOW_OUTPUTS = {
    "values": Output(FIELDS, "value", allow_duplicate=True),
    "label": Output(ids.LIMITS_VERSION, "children"),
    "preset": Output(ids.LIMITS_PRESET, "placeholder"),
    "notice": Output(ids.LIMITS_NOTICE, "children"),
    "shown": Output(ids.LIMITS_SHOWN, "data"),
}


def register_limits_callbacks(app: Dash, store: Store, tz: Any) -> None:
    """Following the version in force; loading a preset and checking each change in the browser's fields;
    applying them to the store."""
    named_clientside_callback(
        app, "vigilLimits", "follow", FOLLOW_OUTPUTS,
        Input(ids.LIMITS_IN_FORCE, "data"), State(FIELDS, "value"), State(FIELDS, "id"),
        State(ids.LIMITS_SHOWN, "data"),
        prevent_initial_call=True,
    )
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
        values = field_texts(load_preset(preset))
        return [values[f"{i['group']}.{i['key']}"] for i in field_ids]

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
    @require(Permission.VIEW)  # a pure check; it runs on every screen whose fields a new version fills
    def validate(values: list, field_ids: list[dict], preset: str | None) -> tuple:
        try:
            limits_from_fields(field_ids, values, preset)
        except LimitsError as exc:
            return _errors_for(field_ids, exc), exc.worded(screen_name), "limits-message invalid", True
        return [None] * len(field_ids), "", "limits-message", False


def register_apply(app: Dash, store: Store, tz: Any) -> None:
    @app.callback(
        Output(ids.LIMITS_MESSAGE, "children", allow_duplicate=True),
        Output(ids.LIMITS_MESSAGE, "className", allow_duplicate=True),
        Output(ids.AUDIT_GRID, "rowData", allow_duplicate=True),
        Input(ids.LIMITS_APPLY, "n_clicks"),
        State(FIELDS, "value"),
        State(FIELDS, "id"),
        State(ids.LIMITS_PRESET, "value"),
        State(ids.LIMITS_SHOWN, "data"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.LIMITS)
    def apply(_clicks: int, values: list, field_ids: list[dict], preset: str | None, edited_from: dict,
              shown: int) -> tuple:
        session_id = shown_session(store, shown)
        newest = in_force(store, session_id)
        if edited_from.get("version") != newest["version"]:  # the stream has not yet brought the newer one
            return (f"Not applied: the limits have changed meanwhile ({newest['label']}). Check the fields and "
                    "apply again.", "limits-message invalid", no_update)
        current = store.limits.current(session_id) or {}
        try:
            limits = limits_from_fields(field_ids, values, preset or current.get("preset"))
        except LimitsError as exc:  # validation ran first, but a forged or raced request lands here
            return f"Not applied: {exc.worded(screen_name)}", "limits-message invalid", no_update
        if limits.to_dict() == current:
            return "No change to apply.", "limits-message", no_update
        wall = datetime.now(UTC)
        effective = store.sessions.info(session_id).clock_now(wall) or wall
        who = current_actor().name
        try:
            version = store.limits.save(session_id, limits.to_dict(), effective, who=who)
        except SessionEnded:  # audited by the store
            return ("Not applied: the session has ended, and its record is closed.", "limits-message invalid",
                    audit_rows(store.audit.entries(session_id=session_id), tz))
        rows = audit_rows(store.audit.entries(session_id=session_id), tz)
        return f"Applied: version {version} by {who}.", "limits-message applied", rows


def field_path(field_id: dict) -> str:
    """The dotted name `parse_limits` uses for an editor field."""
    group, key = field_id["group"], field_id["key"]
    if group == "technical":
        return f"technical.{key}"
    return f"baseline.{group}" if key == "baseline" else f"vitals.{group}.{key}"


def _errors_for(ids: list[dict], error: LimitsError) -> list:
    """The message on each field the error concerns, nothing elsewhere."""
    return [error.worded(screen_name) if field_path(i) in error.keys else None for i in ids]
