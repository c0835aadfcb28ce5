"""Pure figure builders: trace order the browser relies on, limits as shapes over their time, display time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.model.reading import Event, Reading
from monitor.limits.model import Limits, load_preset, parse_limits
from monitor.session.limit_lines import LimitLine, limit_lines
from monitor.store import LimitsVersion
from monitor.web.bed.figures import (
    EVENT_SPAN,
    EVENT_TRACE,
    LABEL_TRACE,
    TRACE_INDEX,
    TRACES,
    display_ms,
    limit_shapes,
    plotly_text,
    trend_dict,
    trend_figure,
)

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_display_ms_shifts_by_the_zone_offset_at_each_instant() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    winter = datetime(2026, 1, 10, 8, tzinfo=UTC)
    summer = datetime(2026, 7, 10, 8, tzinfo=UTC)
    assert display_ms(winter, berlin) - display_ms(winter, UTC) == 3_600_000
    assert display_ms(summer, berlin) - display_ms(summer, UTC) == 7_200_000
    assert display_ms(T0, UTC) == int(T0.timestamp() * 1000)


def test_trend_puts_each_vital_in_its_fixed_trace() -> None:
    readings = [
        Reading(T0, "sbp", 128), Reading(T0, "dbp", 82), Reading(T0, "map", 97),
        Reading(T0, "hr", 72), Reading(T0 + timedelta(seconds=1), "hr", 73), Reading(T0, "spo2", 98),
    ]
    fig = trend_figure(readings, [Event(T0, "dose_start")], [], UTC).to_dict()
    data = fig["data"]
    assert len(data) == len(TRACES) + 2
    assert list(data[TRACE_INDEX["hr"]]["y"]) == [72, 73]
    assert list(data[TRACE_INDEX["sbp"]]["y"]) == [128]
    assert list(data[TRACE_INDEX["spo2"]]["y"]) == [98]
    assert list(data[TRACE_INDEX["rr"]]["y"]) == []
    assert all(trace["type"] == "scatter" for trace in data), "SVG scatter, never scattergl"
    t0 = display_ms(T0, UTC)
    assert (list(data[EVENT_TRACE]["x"]), list(data[EVENT_TRACE]["y"])) == ([t0, t0, None], [*EVENT_SPAN, None])
    assert (list(data[LABEL_TRACE]["x"]), list(data[LABEL_TRACE]["text"])) == ([t0], ["Dose start"])
    assert fig["layout"]["uirevision"] == "trend"


def test_the_trend_as_a_dict_is_the_figure_with_its_readings_put_in_unchecked() -> None:
    readings = [Reading(T0 + timedelta(seconds=s), vital, 70.5 + s) for s in range(5) for vital in ("hr", "spo2")]
    readings += [Reading(T0, "sbp", 128), Reading(T0, "dbp", 82), Reading(T0, "map", 97)]
    limits = lines_of((0, load_preset("iv-ketamine")))
    args = ([Event(T0, "dose_start")], limits, UTC)
    options = {"extra_shapes": [{"type": "rect", "x0": 0, "x1": 1, "y0": 0, "y1": 1}], "x_range": (0, 1)}
    assert trend_dict(readings, *args, **options) == trend_figure(readings, *args, **options).to_dict()


def lines_of(*versions: tuple[float, Limits], end: float = 60) -> list[LimitLine]:
    """The limit lines of versions (minutes from T0 they take effect, limits) over T0 to T0 + `end` min."""
    stored = [LimitsVersion(i, T0 + timedelta(minutes=m), "dr.a", limits.to_dict())
              for i, (m, limits) in enumerate(versions, start=1)]
    return limit_lines(stored, T0, T0 + timedelta(minutes=end), {})


def test_limits_become_named_shapes_on_the_right_panel() -> None:
    limits = parse_limits({"vitals": {"sbp": {"low": 95, "high": 170, "critical_high": 200}, "hr": {"high": 120}}})
    drawn = limit_shapes(lines_of((0, limits)), UTC)
    shapes = {s["name"]: s for s in drawn.shapes}
    assert shapes["band-sbp"]["y0"] == 95 and shapes["band-sbp"]["y1"] == 170 and shapes["band-sbp"]["yref"] == "y"
    assert shapes["sbp-critical_high"]["y0"] == 200
    assert shapes["hr-high"]["yref"] == "y2" and shapes["hr-high"]["y0"] == 120
    assert "spo2-low" not in shapes
    span = (display_ms(T0, UTC), display_ms(T0 + timedelta(minutes=60), UTC))
    assert all((s["xref"], s["x0"], s["x1"]) == ("x", *span) for s in shapes.values())
    assert drawn.open == list(range(len(drawn.shapes))), "one version: all of it still in force"


def test_each_version_is_drawn_over_its_own_time_and_only_the_newest_is_open() -> None:
    old = parse_limits({"vitals": {"sbp": {"low": 95, "high": 140}}})
    new = parse_limits({"vitals": {"sbp": {"low": 95, "high": 160}}})
    drawn = limit_shapes(lines_of((0, old), (20, new)), UTC)
    change, end = display_ms(T0 + timedelta(minutes=20), UTC), display_ms(T0 + timedelta(minutes=60), UTC)
    highs = [(s["y0"], s["x0"], s["x1"]) for s in drawn.shapes if s["name"] == "sbp-high"]
    assert highs == [(140, display_ms(T0, UTC), change), (160, change, end)]
    bands = [(s["y1"], s["x0"], s["x1"]) for s in drawn.shapes if s["name"] == "band-sbp"]
    assert bands == [(140, display_ms(T0, UTC), change), (160, change, end)]
    assert {drawn.shapes[i]["x0"] for i in drawn.open} == {change}


def test_preset_bands_cover_the_three_panels() -> None:
    names = {s["name"] for s in limit_shapes(lines_of((0, load_preset("iv-ketamine"))), UTC).shapes}
    assert {"band-sbp", "band-hr", "band-spo2", "dbp-high", "spo2-critical_low"} <= names


def test_a_note_reaches_the_figure_as_text_plotly_shows_as_typed() -> None:
    """Plotly reads a subset of HTML in text: a note's "<a href>" would be a link, "<span style>" a restyle.
    Escaped, Plotly turns the entities back into what was typed (checked in Chromium by the browser test)."""
    notes = ['<a href="https://evil.example/phish">', '<span style="font-size:120px;fill:red">SpO2 100</span>',
             "AT&amp;T <br> & done"]
    fig = trend_figure([], [Event(T0, "note", n) for n in notes], [], UTC).to_dict()

    assert list(fig["data"][LABEL_TRACE]["text"]) == [
        'Note: &lt;a href="https://evil.example/phish"&gt;',
        'Note: &lt;span style="font-size:120px;fill:red"&gt;SpO2 100&lt;/span&gt;',
        "Note: AT&amp;amp;T &lt;br&gt; &amp; done",
    ]
    assert plotly_text("a < b > c & d") == "a &lt; b &gt; c &amp; d"
