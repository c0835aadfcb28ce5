"""Pure figure builders for the bed view: data in, plotly figure out, no Dash and no store.

The trend has three panels sharing the time axis — NIBP (systolic/diastolic markers, MAP line),
heart/pulse/respiratory rate, SpO2 — with a fixed trace order that the browser relies on when it
extends traces live (`TRACES`). Limits are layout shapes over the time each version was in force, so a
limit change is a layout patch, not a new figure.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import NamedTuple

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adapters.model.reading import Event, Reading
from adapters.model.vitals import VITALS
from monitor.runtime.spool import DB_LOST, DB_REACHED
from monitor.session.limit_lines import LimitLine


@dataclass(frozen=True)
class TraceSpec:
    vital: str
    row: int
    name: str
    mode: str
    color: str
    symbol: str = "circle"


# The numerics' colours (assets/vigil.css), none of them an alarm colour (IEC 60601-1-8: red, yellow, cyan).
TRACES: tuple[TraceSpec, ...] = (
    TraceSpec("sbp", 1, "SYS", "markers", "#ffffff", "triangle-down"),
    TraceSpec("dbp", 1, "DIA", "markers", "#ffffff", "triangle-up"),
    TraceSpec("map", 1, "MAP", "lines+markers", "#b0bec5"),
    TraceSpec("hr", 2, "HR", "lines", "#69f0ae"),
    TraceSpec("pr", 2, "PR", "lines", "#b388ff"),
    TraceSpec("rr", 2, "RR", "lines", "#ea80fc"),
    TraceSpec("spo2", 3, "SpO₂", "lines", "#82b1ff"),
)
TRACE_INDEX: dict[str, int] = {spec.vital: i for i, spec in enumerate(TRACES)}
EVENT_TRACE = len(TRACES)  # vertical event markers drawn as one line trace with gaps
# Their labels are a trace of their own, one text point per event: Plotly pairs a trace's text elements with
# its points by position and drops those of blank or gap points, so labels on the gapped line trace were
# blanked when an extension added points (a note's label vanished when the next event arrived).
LABEL_TRACE = EVENT_TRACE + 1
MAX_EVENTS = 200  # events a trend keeps in the browser
EVENT_SPAN = (20.0, 240.0)  # y extent of event markers in the NIBP panel (mmHg)
ROW_TITLES = ("NIBP mmHg", "HR / PR / RR per min", "SpO₂ %")

BAND_COLOR = "rgba(105, 240, 174, 0.10)"
CRITICAL_COLOR = "rgba(255, 82, 82, 0.85)"
LIMIT_COLOR = "rgba(255, 214, 0, 0.85)"
RISE_COLOR = "rgba(255, 171, 64, 0.85)"

EVENT_LABELS = {
    "dose_start": "Dose start",
    "dose_end": "Dose end",
    "device_1": "Device 1",
    "device_2": "Device 2",
    "device_3": "Device 3",
    DB_LOST: "Not reaching the database",  # a chair's acquisition kept its data on its own disk from here
    DB_REACHED: "Database reached again",
}


def display_ms(t: datetime, tz: tzinfo) -> int:
    """Epoch milliseconds shifted by the display zone's offset at `t`.

    Plotly shows numeric date values as UTC wall time; shifting by the offset makes the axis read
    local wall-clock time, with daylight-saving changes handled per instant.
    """
    local = t.astimezone(tz)
    offset = local.utcoffset()
    shift = 0 if offset is None else int(offset.total_seconds() * 1000)
    return int(t.timestamp() * 1000) + shift


def plotly_text(text: str) -> str:
    """`text` as Plotly shows it literally, every character as typed.

    Plotly reads a subset of HTML in every text it draws (trace text, annotations, hover text, names):
    a note "<a href=…>" would become a link on the chart and "<span style=…>" would restyle it. Any user
    text bound for a figure passes through here once; Plotly turns the entities back into `<`, `>`, `&`.
    """
    return html.escape(text, quote=False)


def trend_label(event: Event) -> str:
    """The event's label on the trend as Plotly text (the server's figure and the stream send the same):
    a note reads "Note: " and its text as typed."""
    if event.kind == "note":
        label = f"Note: {event.text}" if event.text else "Note"
    else:
        label = EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize())
    return plotly_text(label)


def y_axis(row: int) -> str:
    """Plotly's name for a panel's y axis in layout shapes: y, y2, y3."""
    return "y" if row == 1 else f"y{row}"


class LimitShapes(NamedTuple):
    """The limits as layout shapes, and which of them belong to the version still in force: the browser
    stretches those on to "now" as readings arrive."""

    shapes: list[dict]
    open: list[int]


LIMIT_ROWS = {"sbp": 1, "dbp": 1, "hr": 2, "spo2": 3}  # the vitals whose limits the trend draws, and their panel
BANDED = ("sbp", "hr", "spo2")  # each panel's main vital: its allowed range is shaded
LINE_STYLES = {
    "high": (LIMIT_COLOR, "dash"), "low": (LIMIT_COLOR, "dash"),
    "critical_high": (CRITICAL_COLOR, "dot"), "critical_low": (CRITICAL_COLOR, "dot"),
    "rise": (RISE_COLOR, "dashdot"),
}


def limit_shapes(lines: Sequence[LimitLine], tz: tzinfo) -> LimitShapes:
    """Layout shapes for `monitor.session.limit_lines` lines: each version's allowed band of a panel's main
    vital and its limit lines, over the time that version was in force (named by vital and limit, e.g.
    `band-sbp`, `sbp-high`: each version's stretch of a line has the same name)."""
    shapes: list[dict] = []
    is_open: list[int] = []

    def add(shape: dict, line: LimitLine) -> None:
        if line.open:
            is_open.append(len(shapes))
        shapes.append(shape | {"xref": "x", "x0": display_ms(line.start, tz), "x1": display_ms(line.end, tz),
                               "yref": y_axis(LIMIT_ROWS[line.vital]), "layer": "below"})

    drawn = [line for line in lines if line.vital in LIMIT_ROWS]
    bands: dict[tuple[str, int], dict[str, LimitLine]] = {}
    for line in drawn:
        if line.vital in BANDED and line.key in ("low", "high"):
            bands.setdefault((line.vital, line.version), {})[line.key] = line
    for (vital, _), ends in bands.items():
        low, high = ends.get("low"), ends.get("high")
        add({"type": "rect", "name": f"band-{vital}",
             "y0": VITALS[vital].low if low is None else low.value,
             "y1": VITALS[vital].high if high is None else high.value,
             "fillcolor": BAND_COLOR, "line": {"width": 0}}, next(iter(ends.values())))  # its version's span
    for line in drawn:
        color, dash = LINE_STYLES[line.key]
        add({"type": "line", "name": f"{line.vital}-{line.key}", "y0": line.value,
             "y1": line.value, "line": {"color": color, "width": 1, "dash": dash}}, line)
    return LimitShapes(shapes, is_open)


def trend_figure(readings: Iterable[Reading], events: Iterable[Event], limits: Sequence[LimitLine], tz: tzinfo,
                 extra_shapes: Iterable[dict] = (), x_range: tuple[int, int] | None = None) -> go.Figure:
    """The bed-view trend for the given window of readings and events with the limit lines (each version
    where it was in force); `extra_shapes` (e.g. the session's expected BP-peak window) are drawn under them.
    `x_range` (display ms) fixes the time axis, e.g. to the live window ending at the newest reading; without
    it the axis spans the data."""
    series = _series(readings, tz)
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.45, 0.35, 0.2],
        subplot_titles=ROW_TITLES,
    )
    for spec in TRACES:
        xs, ys = series[spec.vital]
        fig.add_trace(
            go.Scatter(  # text=[] so one live extension may carry text for every trace alike
                x=xs, y=ys, text=[], name=spec.name, mode=spec.mode, line={"color": spec.color, "width": 2},
                marker={"color": spec.color, "symbol": spec.symbol, "size": 9}, hovertemplate="%{y}<extra>"
                + spec.name + "</extra>",
            ),
            row=spec.row, col=1,
        )
    _add_events(fig, list(events), tz)
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="#111", plot_bgcolor="#111", uirevision="trend",
        margin={"l": 50, "r": 10, "t": 24, "b": 30}, height=560,
        # Above the plots at the right: the panels' titles (annotations) sit at the left.
        legend={"orientation": "h", "y": 1, "yanchor": "bottom", "x": 1, "xanchor": "right", "font": {"size": 12}},
        shapes=[*extra_shapes, *limit_shapes(limits, tz).shapes],
    )
    fig.update_xaxes(type="date", showgrid=True, gridcolor="#333")
    if x_range is not None:
        # A live window scrolls with the stream, which would undo a zoom within seconds: looking back is the
        # whole-session view's (monitor/web/bed/trend_view.py).
        fig.update_xaxes(range=list(x_range), autorange=False, fixedrange=True)
    # Stable axes a nurse can read at a glance, widened automatically only for values beyond them.
    for row, (low, high) in enumerate(((40, 240), (30, 160), (85, 100)), start=1):
        fig.update_yaxes(autorangeoptions={"include": [low, high]}, gridcolor="#333", row=row, col=1)
    fig.update_annotations(font={"size": 12, "color": "#bdbdbd"}, x=0, xanchor="left")
    return fig


def trend_dict(readings: Iterable[Reading], events: Iterable[Event], limits: Sequence[LimitLine], tz: tzinfo,
               extra_shapes: Iterable[dict] = (), x_range: tuple[int, int] | None = None) -> dict:
    """`trend_figure(...).to_dict()`, the readings put in after Plotly's checks: checking and copying an hour's
    3 × 3600 points took a page load most of a second (on a loaded machine), and the numerics waited for it."""
    figure = trend_figure((), events, limits, tz, extra_shapes, x_range).to_dict()
    for vital, (xs, ys) in _series(readings, tz).items():
        figure["data"][TRACE_INDEX[vital]].update(x=xs, y=ys)
    return figure


def _series(readings: Iterable[Reading], tz: tzinfo) -> dict[str, tuple[list[int], list[float]]]:
    """Each traced vital's times (display ms) and values."""
    series: dict[str, tuple[list[int], list[float]]] = {spec.vital: ([], []) for spec in TRACES}
    for r in readings:
        if r.vital in series:
            xs, ys = series[r.vital]
            xs.append(display_ms(r.time, tz))
            ys.append(r.value)
    return series


def _add_events(fig: go.Figure, events: list[Event], tz: tzinfo) -> None:
    """The events' dotted lines and their labels, on the top panel (`EVENT_TRACE`, `LABEL_TRACE`)."""
    times = [display_ms(e.time, tz) for e in events]
    fig.add_trace(
        go.Scatter(  # one vertical dotted line per event: x = [t, t, None]
            x=[x for t in times for x in (t, t, None)], y=[y for _ in times for y in (*EVENT_SPAN, None)], text=[],
            name="Events", mode="lines", line={"color": "rgba(224, 224, 224, 0.6)", "width": 1, "dash": "dot"},
            hoverinfo="skip", showlegend=False,
        ),
        row=1, col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=times, y=[EVENT_SPAN[1]] * len(times), text=[trend_label(e) for e in events], name="Event labels",
            mode="text", textposition="top right", textfont={"color": "#e0e0e0", "size": 11}, hoverinfo="skip",
            showlegend=False,
        ),
        row=1, col=1,
    )
