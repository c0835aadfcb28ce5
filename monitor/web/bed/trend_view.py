"""Looking back over the whole session on the bed view's trend.

The live trend shows one window (the last hour by default) for every trace, its axis following the newest reading,
as a bedside monitor's trend does. To see what happened earlier — the pre-dose baseline, the peak an hour ago —
the nurse switches the trend to "Whole session": the server draws the session from the store (the source of
truth), and the browser (assets/vigil.js `trendView`) keeps the live figure and queues what arrives meanwhile, so
switching back shows the live window with nothing lost. The numerics and alarms stay live throughout.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

import dash_mantine_components as dmc
from dash import Dash, Input, Output, no_update

from adapters.model.reading import Reading
from adapters.model.vitals import NIBP_CODES
from monitor.auth.roles import Permission
from monitor.session.limit_lines import stored_limit_lines
from monitor.store import Store
from monitor.web.auth import require
from monitor.web.bed import figures, ids
from monitor.web.bed.session_view import session_payload
from monitor.web.bed.shown import SHOWN, shown_session

LIVE, SESSION = "live", "session"  # the trend's two views
THIN_EVERY = timedelta(seconds=10)  # continuous vitals in the whole-session view: their extremes per 10 s


def thinned(readings: list[Reading], every: timedelta = THIN_EVERY) -> list[Reading]:
    """Every NIBP reading (a few per hour, each one charted); of each continuous vital only the lowest and the
    highest of each `every`, so hours at 1 Hz stay quick to draw while a desaturation or a peak stays visible."""
    kept = [r for r in readings if r.vital in NIBP_CODES]
    buckets: dict[tuple[str, int], list[Reading]] = {}
    seconds = every.total_seconds()
    for r in readings:
        if r.vital not in NIBP_CODES:
            buckets.setdefault((r.vital, int(r.time.timestamp() // seconds)), []).append(r)
    for group in buckets.values():
        low = min(group, key=lambda r: r.value)
        high = max(group, key=lambda r: r.value)
        kept.extend([low] if low is high else sorted((low, high), key=lambda r: r.time))
    return sorted(kept, key=lambda r: r.time)


def session_figure(store: Store, session_id: int, tz: tzinfo) -> dict:
    """The whole session's trend as stored now: thinned continuous vitals, every NIBP, the events in force, each
    limits version where it was in force. Free to zoom (its own `uirevision`: a zoom here does not carry over to
    the live window), and marked as the look-back figure (`meta`), which the browser never extends."""
    session = session_payload(store, session_id, tz)
    figure = figures.trend_dict(thinned(store.samples.readings(session_id)), store.samples.events(session_id),
                                stored_limit_lines(store, session_id), tz, extra_shapes=session["shapes"])
    figure["layout"].update(uirevision=SESSION, meta=SESSION)
    return figure


def view_toggle(window_ms: int) -> dmc.SegmentedControl:
    """Over the trend's top edge (taking no room of its own), between the legend and Plotly's toolbar: the live
    window, or the whole session."""
    return dmc.SegmentedControl(
        id=ids.TREND_VIEW, value=LIVE, size="xs", className="trend-view",
        data=[{"value": LIVE, "label": f"Last {window_ms // 60_000} min"},
              {"value": SESSION, "label": "Whole session"}],
        style={"position": "absolute", "top": 0, "right": 170, "zIndex": 5},
    )


def register_trend_callbacks(app: Dash, store: Store, tz: tzinfo) -> None:
    """The whole session's trend, drawn from the store when the page asks to look back."""
    @app.callback(
        Output(ids.TREND_SESSION, "data"),
        Input(ids.TREND_VIEW, "value"),
        SHOWN,
        prevent_initial_call=True,
    )
    @require(Permission.VIEW)
    def look_back(view: str, shown: int) -> dict | object:
        if view != SESSION:
            return no_update
        return session_figure(store, shown_session(store, shown), tz)
