"""What the browser draws on the bed view from the stream and the clock: the clientside callbacks, with named
outputs.

Dash's clientside callbacks take their outputs as a list only (dict groupings are for server callbacks in
Dash 4.4), so a function with many outputs would return an array whose order must match the Outputs here.
Instead each such function returns an object keyed by the names below (a dotted name reaches into a nested
object: "value.hr" is `out.value.hr`), and `named_clientside_callback` lists the values in the Outputs' order:
no order is shared between Python and JS, and a name the function leaves out is an error in the console,
never a silently stale tile.
"""

from __future__ import annotations

import json
from string import Template

from dash import ALL, ClientsideFunction, Dash, Input, Output, State

from monitor.web.bed import ids

# Calls window.dash_clientside[namespace][function] and lists the object it returns by `names` (an inline script,
# which Dash hashes into the page's Content-Security-Policy).
_BY_NAME = Template("""function (...args) {
  const out = window.dash_clientside[$namespace][$function](...args);
  if (out === window.dash_clientside.no_update) return out;
  return $names.map((name) => {
    const value = name.split(".").reduce((group, key) => (group == null ? undefined : group[key]), out);
    if (value === undefined) throw new Error($function + " returned nothing for " + name);
    return value;
  });
}""")


def named_clientside_callback(app: Dash, namespace: str, function: str, outputs: dict[str, Output],
                              *dependencies: Input | State, **options: object) -> None:
    """Register `window.dash_clientside[namespace][function]`, which returns an object keyed by the names of
    `outputs` (or one `no_update` for all), as a clientside callback of `outputs` and `dependencies`."""
    source = _BY_NAME.substitute(namespace=json.dumps(namespace), function=json.dumps(function),
                                 names=json.dumps(list(outputs)))
    app.clientside_callback(source, *outputs.values(), *dependencies, **options)


# vigil_session.js `render`: what changes only with the session's facts (its countdowns are written by the
# scripts themselves, every second, with the numerics: vigil.js `paint`).
SESSION_OUTPUTS = {
    "patient": Output(ids.SESSION_PATIENT, "children"),
    "baseline": Output(ids.BASELINE_BOX, "children"),
    "doseDisabled": Output(ids.dose_button(ALL), "disabled"),
    "doseHint": Output(ids.DOSE_HINT, "children"),
    "endDisabled": Output(ids.END_BUTTON, "disabled"),
}

# vigil_alarms.js `renderAlarms`: the sound controls and the history (the banner and the alarm bar's colour are
# written by the scripts themselves, as each alarm change arrives).
ALARM_OUTPUTS = {
    "pauseText": Output(ids.AUDIO_PAUSE, "children"),
    "soundText": Output(ids.SOUND_TOGGLE, "children"),
    "soundClass": Output(ids.SOUND_TOGGLE, "className"),
    "soundColor": Output(ids.SOUND_TOGGLE, "color"),
    "history": Output(ids.ALARM_HISTORY, "rowData"),
}


def register_clientside_callbacks(app: Dash) -> None:
    """The stream into the page (connect: from then on vigil.js writes the numerics, clocks, countdowns and alarm
    banner and extends the trend itself, with no callback per message or per second), the trend's view, then
    what changes with the session's facts, the alarms' controls and history."""
    app.clientside_callback(
        ClientsideFunction("vigil", "connect"),
        Output(ids.LINK_STATUS, "children"),
        Input(ids.STREAM_CONFIG, "data"), State(ids.LATEST, "data"), State(ids.SESSION_STATE, "data"),
        State(ids.ALARMS_INITIAL, "data"),
    )
    app.clientside_callback(  # the live window or the whole session (monitor/web/bed/trend_view.py)
        ClientsideFunction("vigil", "trendView"),
        Output(ids.TREND, "figure"),
        Input(ids.TREND_VIEW, "value"), Input(ids.TREND_SESSION, "data"),
        prevent_initial_call=True,
    )
    named_clientside_callback(
        app, "vigilSession", "render", SESSION_OUTPUTS,
        Input(ids.SESSION_STATE, "data"), State(ids.dose_button(ALL), "id"),
    )
    app.clientside_callback(  # the correction form's choices change only with the session's facts
        ClientsideFunction("vigilSession", "amendable"),
        Output(ids.AMEND_EVENT, "data"),
        Input(ids.SESSION_STATE, "data"),
    )
    named_clientside_callback(
        app, "vigilAlarms", "renderAlarms", ALARM_OUTPUTS,
        Input(ids.ALARM_TICK, "data"), Input(ids.AUDIO_PAUSE, "n_clicks"),
        Input(ids.SOUND_TOGGLE, "n_clicks"), State(ids.ALARMS_INITIAL, "data"), State(ids.STREAM_CONFIG, "data"),
    )
