"""The trend figure: NIBP, heart rate and SpO₂ panels on one minutes axis, as a reportlab Drawing.

One Drawing serves both documents: platypus draws it into the PDF and renderSVG turns it into the
HTML page's inline SVG, so the two cannot disagree. Continuous vitals (a reading a second is 7200
points in 2 h) are thinned to the lowest and highest reading per horizontal point, so a short dip or
peak still shows; a gap in the data longer than `GAP_MIN` breaks the line rather than bridging it
with values nobody measured.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from reportlab.graphics.shapes import Circle, Drawing, Line, PolyLine, Rect, String
from reportlab.graphics.widgets.markers import Marker, makeMarker
from reportlab.lib import colors
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth

from adapters.model.reading import EVENT_KINDS
from monitor.session.limit_lines import LimitLine
from monitor.session.record import SessionRecord

WIDTH, HEIGHT = 510.0, 400.0  # points; the PDF frame on A4 is this wide
LEFT, RIGHT, TOP, BOTTOM = 34.0, 64.0, 30.0, 30.0  # room for y labels, limit labels, event labels, x labels
TITLE_H = 13.0  # the band above each panel: its name and legend
PANEL_GAP = 4.0
GAP_MIN = 0.5  # no reading for longer than this (minutes) leaves the line open
FONT, BOLD, SMALL = "Helvetica", "Helvetica-Bold", 6.5
X_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 240, 480, 720, 1440)  # minutes
Y_STEPS = (1, 2, 5, 10, 20, 25, 50, 100)
DOSE_MARKS = tuple(k for k in EVENT_KINDS if k != "note")
GRID, FRAME, TEXT = colors.HexColor("#e3e3e3"), colors.HexColor("#9a9a9a"), colors.HexColor("#333333")
PEAK_FILL = colors.HexColor("#fff1c2")
LIMIT_DASH: dict[str, list[float]] = {"high": [3, 2], "low": [3, 2], "rise": [4, 1.5, 1, 1.5]}  # limits drawn

Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    vital: str
    label: str  # ASCII: the PDF draws the figure with a standard font
    color: Color
    marker: str | None  # a reportlab marker for intermittent NIBP; None: a continuous line


@dataclass(frozen=True)
class Panel:
    title: str
    weight: float  # share of the plotting height
    series: tuple[Series, ...]
    peak: bool = False  # shade the session type's expected BP peak here


PANELS = (
    Panel("NIBP (mmHg)", 1.4, (
        Series("sbp", "SYS", colors.HexColor("#b2182b"), "FilledCircle"),
        Series("dbp", "DIA", colors.HexColor("#2166ac"), "FilledTriangle"),
        Series("map", "MAP", colors.HexColor("#7f7f7f"), "FilledDiamond"),
    ), peak=True),
    Panel("Heart rate (bpm)", 1.0, (
        Series("hr", "HR", colors.HexColor("#1b7837"), None),
        Series("pr", "PR", colors.HexColor("#762a83"), None),
    )),
    Panel("SpO2 (%)", 0.8, (Series("spo2", "SpO2", colors.HexColor("#2166ac"), None),)),
)


def ticks(lo: float, hi: float, most: int, steps: Sequence[float]) -> list[float]:
    """Round tick values in [lo, hi]: the smallest step from `steps` giving at most `most` intervals."""
    step = next((s for s in steps if (hi - lo) / s <= most), steps[-1])
    return [i * step for i in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


def thin(points: Sequence[Point], bin_width: float, max_gap: float) -> list[list[Point]]:
    """Split time-ordered points at gaps over `max_gap`, then keep each bin's lowest and highest point."""
    segments: list[list[Point]] = []
    for i, p in enumerate(points):
        if i == 0 or p[0] - points[i - 1][0] > max_gap:
            segments.append([])
        segments[-1].append(p)
    thinned = []
    for segment in segments:
        kept: list[Point] = []
        for _, group in groupby(segment, key=lambda p: math.floor(p[0] / bin_width)):
            members = list(group)
            extremes = {min(members, key=lambda p: p[1]), max(members, key=lambda p: p[1])}
            kept += sorted(extremes)
        thinned.append(kept)
    return thinned


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    return lambda v: out_lo + (v - lo) / (hi - lo) * (out_hi - out_lo)


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: float = SMALL, font: str = FONT,
          color: Color = TEXT) -> String:
    return String(x, y, text, fontName=font, fontSize=size, fillColor=color, textAnchor=anchor)


def _dashed(x0: float, y0: float, x1: float, y1: float, color: Color, width: float, dash: list[float]) -> PolyLine:
    """A dashed straight line. A PolyLine, not a Line: renderSVG closes a Line's path back onto itself,
    and the dashes of the way back fill the gaps of the way out."""
    return PolyLine([x0, y0, x1, y1], strokeColor=color, strokeWidth=width, strokeDashArray=dash)


def _sample(series: Series, x: float, y: float) -> Marker | Line:
    """The legend's small picture of a series: its marker, or a stretch of its line."""
    if series.marker is not None:
        return makeMarker(series.marker, x=x + 4, y=y + 2, size=4.5, fillColor=series.color, strokeColor=series.color)
    return Line(x, y + 2, x + 8, y + 2, strokeColor=series.color, strokeWidth=1.2)


@dataclass(frozen=True)
class _Limit:
    """A limit line as a panel draws it: one or more vitals' equal limit over one version's time."""

    value: float
    start: datetime
    end: datetime
    dash: list[float]
    color: Color
    label: str


def _limit_lines(present: Sequence[Series], lines: Sequence[LimitLine]) -> list[_Limit]:
    """The high, low and rise lines of the vitals drawn, each over the time its value was in force (a version
    that kept a value continues its line); equal lines of several vitals (HR and PR high 110) share one,
    labelled with both."""
    series = {s.vital: s for s in present}
    spans: dict[tuple[str, str], list[list]] = defaultdict(list)  # (vital, key) -> [value, start, end] in order
    for line in lines:
        if line.vital in series and line.key in LIMIT_DASH:
            same = spans[(line.vital, line.key)]
            if same and same[-1][0] == line.value and same[-1][2] == line.start:
                same[-1][2] = line.end  # a version that kept this limit: one line on
            else:
                same.append([line.value, line.start, line.end])
    found: dict[tuple[float, str, datetime, datetime], list[Series]] = defaultdict(list)
    for (vital, key), kept in spans.items():
        for value, start, end in kept:
            found[(value, key, start, end)].append(series[vital])
    return [_Limit(value, start, end, LIMIT_DASH[key], members[0].color,
                   f"{'/'.join(m.label for m in members)} {key} {value:g}")
            for (value, key, start, end), members in found.items()]


def _spread(ys: list[float], gap: float) -> list[float]:
    """Label heights pushed apart so neighbours do not overprint (input sorted ascending)."""
    out: list[float] = []
    for y in ys:
        out.append(y if not out else max(y, out[-1] + gap))
    return out


class _Figure:
    """The layout of one drawing: the shared x axis and where each panel sits."""

    def __init__(self, record: SessionRecord, start: datetime, end: datetime, width: float, height: float) -> None:
        self.record = record
        self.d = Drawing(width, height)
        self.x0, self.x1 = LEFT, width - RIGHT
        self.origin = record.anchor or start
        self.record_end = end
        lo, hi = self.minutes_of(start), self.minutes_of(end)
        self.lo, self.hi = lo, max(hi, lo + 1)  # a record of one instant still gets an axis
        self.x = _scale(self.lo, self.hi, self.x0, self.x1)
        self.bin_width = (self.hi - self.lo) / (self.x1 - self.x0)
        self.xticks = ticks(self.lo, self.hi, 10, X_STEPS)
        self.data: dict[str, list[Point]] = defaultdict(list)
        for r in record.readings:
            self.data[r.vital].append((self.minutes_of(r.time), r.value))

    def minutes_of(self, t: datetime) -> float:
        return (t - self.origin).total_seconds() / 60

    def draw(self) -> Drawing:
        height = self.d.height
        plot_h = height - TOP - BOTTOM - len(PANELS) * TITLE_H - (len(PANELS) - 1) * PANEL_GAP
        weights = sum(p.weight for p in PANELS)
        top = height - TOP
        extents = []
        for panel in PANELS:
            top -= TITLE_H
            bottom = top - plot_h * panel.weight / weights
            self.panel(panel, bottom, top)
            extents.append((bottom, top))
            top = bottom - PANEL_GAP
        self.x_axis(extents[-1][0])
        self.dose_marks(extents)
        return self.d

    def panel(self, panel: Panel, bottom: float, top: float) -> None:
        d = self.d
        present = [s for s in panel.series if self.data.get(s.vital)]
        lines = _limit_lines(present, self.record.limit_lines)
        values = [v for s in present for _, v in self.data[s.vital]] + [line.value for line in lines]
        shaded = self.peak(bottom, top) if panel.peak else False
        for t in self.xticks:
            d.add(Line(self.x(t), bottom, self.x(t), top, strokeColor=GRID, strokeWidth=0.4))
        d.add(Rect(self.x0, bottom, self.x1 - self.x0, top - bottom, strokeColor=FRAME, fillColor=None,
                   strokeWidth=0.6))
        self.legend(panel, present, bool(lines), shaded, top)
        if not values:
            d.add(_text((self.x0 + self.x1) / 2, (bottom + top) / 2, "not recorded", anchor="middle", size=8))
            return
        pad = max((max(values) - min(values)) * 0.08, 2.0)
        lo, hi = min(values) - pad, max(values) + pad
        y = _scale(lo, hi, bottom, top)
        for v in ticks(lo, hi, 5, Y_STEPS):
            d.add(Line(self.x0, y(v), self.x1, y(v), strokeColor=GRID, strokeWidth=0.4))
            d.add(_text(self.x0 - 3, y(v) - 2, f"{v:g}", anchor="end"))
        self.limits(lines, y)
        for s in present:
            self.series(s, y)

    def limits(self, lines: list[_Limit], y: Callable[[float], float]) -> None:
        """Each line over its version's time. Those in force at the end are labelled in the right margin; an
        earlier version's line carries its value where it ends, so a step reads "was 179, became 159"."""
        final = sorted((line for line in lines if line.end >= self.record_end), key=lambda line: line.value)
        for line, label_y in zip(final, _spread([y(line.value) for line in final], 7), strict=True):
            self.d.add(_text(self.x1 + 3, label_y - 2, line.label, color=line.color))
        for line in lines:
            left, right = self.x(self.minutes_of(line.start)), self.x(self.minutes_of(line.end))
            self.d.add(_dashed(left, y(line.value), right, y(line.value), line.color, 0.7, line.dash))
            if line.end < self.record_end:
                self.d.add(_text(right - 1, y(line.value) + 1.5, f"{line.value:g}", anchor="end", size=5.5,
                                 color=line.color))

    def series(self, s: Series, y: Callable[[float], float]) -> None:
        points = self.data[s.vital]
        if s.marker is not None:  # intermittent: every measurement its own marker (thinned only if dense)
            for m, v in (p for segment in thin(points, self.bin_width, math.inf) for p in segment):
                self.d.add(makeMarker(s.marker, x=self.x(m), y=y(v), size=3.5, fillColor=s.color,
                                      strokeColor=s.color))
            return
        for segment in thin(points, self.bin_width, GAP_MIN):
            xy = [(self.x(m), y(v)) for m, v in segment]
            if len(xy) == 1:
                self.d.add(Circle(*xy[0], 0.8, fillColor=s.color, strokeColor=None))
            else:
                self.d.add(PolyLine([c for p in xy for c in p], strokeColor=s.color, strokeWidth=0.8,
                                    fillColor=None))

    def peak(self, bottom: float, top: float) -> bool:
        window = self.record.stype.peak_window_min
        if self.record.anchor is None or window is None or window[0] >= self.hi or window[1] <= self.lo:
            return False
        left, right = self.x(max(window[0], self.lo)), self.x(min(window[1], self.hi))
        self.d.add(Rect(left, bottom, right - left, top - bottom, fillColor=PEAK_FILL, strokeColor=None))
        return True

    def legend(self, panel: Panel, present: Sequence[Series], limits: bool, shaded: bool, top: float) -> None:
        d, x, y = self.d, self.x0, top + 3.5
        d.add(_text(x, y, panel.title, font=BOLD, size=7.5))
        x += stringWidth(panel.title, BOLD, 7.5) + 10
        for s in present:
            d.add(_sample(s, x, y))
            d.add(_text(x + 11, y, s.label))
            x += 14 + stringWidth(s.label, FONT, SMALL) + 6
        if limits:
            d.add(_dashed(x, y + 2, x + 10, y + 2, TEXT, 0.7, [3, 2]))
            label = "limits, each version while in force"
            d.add(_text(x + 13, y, label))
            x += 13 + stringWidth(label, FONT, SMALL) + 6
        if shaded:
            first, last = self.record.stype.peak_window_min or (0, 0)
            d.add(Rect(x, y - 1, 10, 6, fillColor=PEAK_FILL, strokeColor=FRAME, strokeWidth=0.3))
            d.add(_text(x + 13, y, f"expected BP peak ({first:g}-{last:g} min)"))

    def x_axis(self, bottom: float) -> None:
        for t in self.xticks:
            self.d.add(_text(self.x(t), bottom - 9, f"{t:g}", anchor="middle"))
        what = self.record.stype.anchor_label if self.record.anchor is not None else "start of record"
        self.d.add(_text((self.x0 + self.x1) / 2, bottom - 20, f"minutes from {what}", anchor="middle", size=7))

    def dose_marks(self, extents: Sequence[tuple[float, float]]) -> None:
        """A dotted line through every panel at each dose event; labels above the figure, staggered, as
        esketamine devices 5 min apart would otherwise overprint."""
        marks = [s.event for s in self.record.events if s.event.kind in DOSE_MARKS]
        for i, e in enumerate(marks):
            x = self.x(self.minutes_of(e.time))
            for bottom, top in extents:
                self.d.add(_dashed(x, bottom, x, top, TEXT, 0.6, [1, 1.5]))
            self.d.add(_text(x, extents[0][1] + TITLE_H + 3 + 7 * (i % 3), e.kind, anchor="middle"))


def trend_drawing(record: SessionRecord, width: float = WIDTH, height: float = HEIGHT) -> Drawing:
    """The record's trend; a record without readings or events gets a drawing that says so."""
    if record.start is None or record.end is None:
        d = Drawing(width, 40)
        d.add(_text(width / 2, 16, "No readings recorded.", anchor="middle", size=9))
        return d
    return _Figure(record, record.start, record.end, width, height).draw()
