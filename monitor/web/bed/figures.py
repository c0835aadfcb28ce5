"""Pure figure builders for the bed view: data in, plotly figure out, no Dash and no store.

The trend has three panels sharing the time axis — NIBP (systolic/diastolic markers, MAP line),
heart/pulse/respiratory rate, SpO2 — with a fixed trace order that the browser relies on when it
extends traces live (`TRACES`). Limits are layout shapes, so live extensions never touch them and
a limit change is a layout patch, not a new figure.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adapters.model.reading import Event, Reading
from adapters.model.vitals import VITALS
from monitor.limits.model import Limits


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
# blanked when an extendData added points (a note's label vanished when the next event arrived).
LABEL_TRACE = EVENT_TRACE + 1
MAX_EVENTS = 200  # events a trend keeps in the browser
EVENT_SPAN = (20.0, 240.0)  # y extent of event markers in the NIBP panel (mmHg)
ROW_TITLES = ("NIBP mmHg", "HR / PR / RR per min", "SpO₂ %")

BAND_COLOR = "rgba(105, 240, 174, 0.10)"
CRITICAL_COLOR = "rgba(255, 82, 82, 0.85)"
LIMIT_COLOR = "rgba(255, 214, 0, 0.85)"

EVENT_LABELS = {
    "dose_start": "Dose start",
    "dose_end": "Dose end",
    "device_1": "Device 1",
    "device_2": "Device 2",
    "device_3": "Device 3",
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


def limit_shapes(limits: Limits) -> list[dict]:
    """Layout shapes for the limits: the allowed band of the panel's main vital plus limit lines."""
    shapes: list[dict] = []

    def band(vital: str, row: int) -> None:
        lim = limits.for_vital(vital)
        if lim.low is None and lim.high is None:
            return
        axis = y_axis(row)
        shapes.append({
            "type": "rect", "name": f"band-{vital}", "xref": "x domain", "x0": 0, "x1": 1, "yref": axis,
            "y0": VITALS[vital].low if lim.low is None else lim.low,
            "y1": VITALS[vital].high if lim.high is None else lim.high,
            "fillcolor": BAND_COLOR, "line": {"width": 0}, "layer": "below",
        })

    def lines(vital: str, row: int) -> None:
        lim = limits.for_vital(vital)
        axis = y_axis(row)
        for key, color, dash in (
            ("high", LIMIT_COLOR, "dash"), ("low", LIMIT_COLOR, "dash"),
            ("critical_high", CRITICAL_COLOR, "dot"), ("critical_low", CRITICAL_COLOR, "dot"),
        ):
            value = getattr(lim, key)
            if value is None:
                continue
            shapes.append({
                "type": "line", "name": f"{vital}-{key}", "xref": "x domain", "x0": 0, "x1": 1, "yref": axis,
                "y0": value, "y1": value, "line": {"color": color, "width": 1, "dash": dash}, "layer": "below",
            })

    for vital, row in (("sbp", 1), ("hr", 2), ("spo2", 3)):
        band(vital, row)
        lines(vital, row)
    lines("dbp", 1)
    return shapes


def trend_figure(readings: Iterable[Reading], events: Iterable[Event], limits: Limits, tz: tzinfo,
                 extra_shapes: Iterable[dict] = ()) -> go.Figure:
    """The bed-view trend for the given window of readings and events; `extra_shapes` (e.g. the
    session's expected BP-peak window) are drawn under the limits."""
    series: dict[str, tuple[list[int], list[float]]] = {spec.vital: ([], []) for spec in TRACES}
    for r in readings:
        if r.vital in series:
            xs, ys = series[r.vital]
            xs.append(display_ms(r.time, tz))
            ys.append(r.value)
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
    events = list(events)
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
    fig.update_layout(
        template="plotly_dark", paper_bgcolor="#111", plot_bgcolor="#111", uirevision="trend",
        margin={"l": 50, "r": 10, "t": 24, "b": 30}, height=560,
        # Above the plots at the right: the panels' titles (annotations) sit at the left.
        legend={"orientation": "h", "y": 1, "yanchor": "bottom", "x": 1, "xanchor": "right", "font": {"size": 12}},
        shapes=[*extra_shapes, *limit_shapes(limits)],
    )
    fig.update_xaxes(type="date", showgrid=True, gridcolor="#333")
    # Stable axes a nurse can read at a glance, widened automatically only for values beyond them.
    for row, (low, high) in enumerate(((40, 240), (30, 160), (85, 100)), start=1):
        fig.update_yaxes(autorangeoptions={"include": [low, high]}, gridcolor="#333", row=row, col=1)
    fig.update_annotations(font={"size": 12, "color": "#bdbdbd"}, x=0, xanchor="left")
    return fig
