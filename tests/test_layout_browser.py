"""The bed view's layout in a real headless Chromium: every vital on one screen at the sizes of ordinary clinic PCs
however many alarms are active, colours a normal value never shares with an alarm, and what a bedside monitor
shows beside each numeric (its alarm limits; for NIBP the time of the measurement and of the next cycle)."""

from __future__ import annotations

import colorsys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_support import T0, LiveSession, set_viewport, text_of
from support import NO_SIGN_IN, wait_for

from adapters.files.csv_reader import read_session_csv
from adapters.files.replay import ReplaySource
from adapters.model.reading import Event
from monitor.limits.model import load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed.figures import TRACE_INDEX

pytestmark = pytest.mark.browser

# Where each element lies, in CSS pixels of the viewport, and how large the viewport is.
BOXES = """
const box = (selector) => {
  const e = document.querySelector(selector);
  if (!e) return null;
  const r = e.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom];
};
return {viewport: [window.innerWidth, window.innerHeight],
        boxes: Object.fromEntries(arguments[0].map((s) => [s, box(s)]))};
"""
# The alarm bar, the numerics of the four alarm-scenario vitals (NIBP, HR, SpO2) and PR (its whole tile), the trend.
ON_SCREEN = ("#alarm-bar", "#num-bp", "#num-hr", "#num-spo2", "#num-pr", "#tile-pr", "#trend .main-svg")


def outside_viewport(dash_duo, selectors: tuple[str, ...]) -> dict:
    """The selectors whose element is missing, empty, or not wholly inside the viewport, with their boxes."""
    found = dash_duo.driver.execute_script(BOXES, list(selectors))
    width, height = found["viewport"]
    return {selector: box for selector, box in found["boxes"].items()
            if box is None or box[2] <= box[0] or box[3] <= box[1]
            or box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height}


def displayed(dash_duo, element_id: str) -> bool:
    return dash_duo.driver.execute_script(
        "const e = document.getElementById(arguments[0]); return !!e && e.getClientRects().length > 0;", element_id)


@pytest.fixture
def four_alarms(tmp_path: Path):
    """A live esketamine session (the widest session strip: three device buttons) with four alarms active: SYS
    and DIA above their critical limits, HR above, SpO2 below; PR normal and RR never measured. No NIBP before
    the first device, so no baseline and no rise alarm."""
    live = LiveSession(tmp_path / "layout.db", load_preset("esketamine").to_dict())
    live.store.sessions.set_up(live.sid, "setup", T0, T0, session_type="esketamine", patient_label="MRN-0042",
                               bed="bed-4")
    live.feed(0, [("hr", 75), ("pr", 75), ("spo2", 97)], (Event(T0, "device_1"),))
    live.feed(300, [("sbp", 231), ("dbp", 125), ("map", 160), ("hr", 140), ("pr", 75), ("spo2", 85)])
    for seconds in range(305, 330, 5):  # continuous values out of range for longer than their delays
        live.feed(seconds, [("hr", 140), ("pr", 75), ("spo2", 85)])
    yield live
    live.store.close()


def test_at_1366x768_four_alarms_leave_every_vital_and_the_trend_on_screen(dash_duo, four_alarms) -> None:
    """A common clinic PC: 1366×768 less the browser's chrome leaves a viewport of about 1366×625."""
    live = four_alarms
    assert len([a for a in live.store.alarms.since(live.sid) if a.episode.end is None]) == 4
    set_viewport(dash_duo, 1366, 625)
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, auth=NO_SIGN_IN)))
    wait_for(lambda: dash_duo.driver.execute_script("return document.querySelectorAll('[data-alarm]').length;") == 4,
             10, "the four alarms in the banner")
    dash_duo.wait_for_text_to_equal("#num-bp", "231/125", timeout=10)
    assert "+3 more" in text_of(dash_duo, "alarm-banner")
    dash_duo.wait_for_element("#trend .main-svg", timeout=10)  # the numerics can paint before the trend is drawn
    assert outside_viewport(dash_duo, ON_SCREEN) == {}

    # RR was never measured: its tile takes no room, until a value arrives.
    assert not displayed(dash_duo, "tile-rr")
    live.feed(330, [("hr", 140), ("pr", 75), ("spo2", 85), ("rr", 16)])
    dash_duo.wait_for_text_to_equal("#num-rr", "16", timeout=10)
    assert outside_viewport(dash_duo, (*ON_SCREEN, "#num-rr")) == {}
    assert dash_duo.get_logs() == []


def test_at_1920x1080_a_replay_shows_every_tile_and_the_replay_bar(dash_duo, tmp_path: Path, sample_data: Path) -> None:
    recording = read_session_csv(sample_data / "iv_ketamine.csv")
    store = Store(tmp_path / "replay.db")
    sid = store.sessions.create("layout", "replay")
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), datetime(2026, 1, 1, tzinfo=UTC), "test")
    runner = ReplayRunner(store, sid, ReplaySource([*recording.readings, *recording.events], 600, time.monotonic()))
    try:
        runner.start()
        set_viewport(dash_duo, 1920, 950)  # 1080 less the browser's chrome
        dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, runner=runner, auth=NO_SIGN_IN)))
        wait_for(lambda: text_of(dash_duo, "num-pr") not in ("", "--"), 20, "a PR value")
        dash_duo.wait_for_element("#trend .main-svg", timeout=10)
        assert outside_viewport(dash_duo, (*ON_SCREEN, "#replay-bar")) == {}
        assert dash_duo.get_logs() == []
    finally:
        runner.stop()
        store.close()


def hue_saturation(css_rgb: str) -> tuple[float, float]:
    """Hue in degrees and saturation (HSV) of an `rgb(r, g, b)` or `#rrggbb` colour."""
    if css_rgb.startswith("#"):
        channels = [int(css_rgb[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        channels = [int(c) for c in css_rgb[css_rgb.index("(") + 1:css_rgb.index(")")].split(",")[:3]]
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in channels))
    return h * 360, s


def hue_distance(a: float, b: float) -> float:
    return min(abs(a - b), 360 - abs(a - b))


# IEC 60601-1-8 alarm colours: red (high), yellow (medium), cyan (low), as hues.
ALARM_HUES = {"red": 0.0, "yellow": 53.0, "cyan": 186.0}


def test_normal_numerics_and_traces_are_never_in_an_alarm_colour_and_hr_and_pr_differ(dash_duo,
                                                                                      tmp_path: Path) -> None:
    live = LiveSession(tmp_path / "colours.db", load_preset("iv-ketamine").to_dict())
    live.feed(0, [("sbp", 128), ("dbp", 80), ("map", 96), ("hr", 75), ("pr", 76), ("spo2", 97), ("rr", 14)])
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#num-rr", "14", timeout=10)
    assert dash_duo.find_element("#alarm-banner").text == "No active alarms"
    colour_of = "return getComputedStyle(document.getElementById(arguments[0])).color;"
    numerics = {key: dash_duo.driver.execute_script(colour_of, f"num-{key}")
                for key in ("bp", "hr", "spo2", "pr", "rr")}
    traces = dash_duo.driver.execute_script(
        "return document.querySelector('#trend .js-plotly-plot').data.map((t) => t.line && t.line.color);")
    colours = {**{f"numeric {k}": c for k, c in numerics.items()},
               **{f"trace {v}": traces[i] for v, i in TRACE_INDEX.items()}}
    for what, colour in colours.items():
        hue, saturation = hue_saturation(colour)
        if saturation < 0.15:  # white or grey: no alarm colour
            continue
        near = [name for name, alarm_hue in ALARM_HUES.items() if hue_distance(hue, alarm_hue) < 25]
        assert not near, f"{what} is {colour}, too near the alarm colour {near}"
    assert len(set(numerics.values())) == len(numerics), f"one colour per vital: {numerics}"
    for hr, pr in ((numerics["hr"], numerics["pr"]), (traces[TRACE_INDEX["hr"]], traces[TRACE_INDEX["pr"]])):
        assert hue_distance(hue_saturation(hr)[0], hue_saturation(pr)[0]) >= 60, f"HR {hr} and PR {pr} alike"
    live.store.close()


# The trend's legend and the NIBP panel's title ("NIBP mmHg"), as boxes on the page.
LEGEND_AND_TITLE = """
const plot = document.querySelector('#trend .js-plotly-plot');
const rect = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
const title = Array.from(plot.querySelectorAll('.annotation')).find((a) => a.textContent === 'NIBP mmHg');
return [rect(plot.querySelector('.legend')), rect(title)];
"""


def test_the_trend_legend_clears_the_panel_title_and_the_toolbar_is_hidden(dash_duo, tmp_path: Path) -> None:
    live = LiveSession(tmp_path / "legend.db", load_preset("iv-ketamine").to_dict())
    live.feed(0, [("sbp", 128), ("dbp", 80), ("map", 96), ("hr", 75), ("spo2", 97)])
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#num-bp", "128/80", timeout=10)
    legend, title = dash_duo.driver.execute_script(LEGEND_AND_TITLE)
    overlap = legend[0] < title[2] and title[0] < legend[2] and legend[1] < title[3] and title[1] < legend[3]
    assert not overlap, f"legend {legend} on the title {title}"
    assert dash_duo.driver.execute_script("return document.querySelector('#trend .modebar') === null;")
    live.store.close()


def test_numerics_show_their_limits_in_force_and_nibp_its_time_and_next_cycle(dash_duo, tmp_path: Path) -> None:
    live = LiveSession(tmp_path / "limits.db", load_preset("iv-ketamine").to_dict())
    live.feed(0, [("sbp", 128), ("dbp", 80), ("map", 96), ("hr", 75), ("spo2", 97)])
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#limits-bp", "SYS ↑179 ↓101\nDIA ↑109", timeout=10)
    assert text_of(dash_duo, "limits-hr") == "↑110 ↓50"
    assert text_of(dash_duo, "limits-spo2") == "↓94"
    # One measurement: when it was taken, and when the NIBP-overdue alarm (1020 s) falls due.
    assert text_of(dash_duo, "nibp-cycle") == "measured 09:00:00 · overdue after 09:17:00"
    live.feed(600, [("sbp", 131), ("dbp", 82), ("map", 98)])
    dash_duo.wait_for_text_to_equal("#nibp-cycle", "measured 09:10:00 · next ≈ 09:20:00 (every 10 min)", timeout=10)

    # A limits change reaches the numerics over the stream.
    changed = load_preset("iv-ketamine").to_dict()
    changed["vitals"]["sbp"]["high"] = 150
    changed["vitals"]["hr"].pop("low")
    live.store.limits.save(live.sid, changed, T0, "clinician")
    dash_duo.wait_for_text_to_equal("#limits-bp", "SYS ↑150 ↓101\nDIA ↑109", timeout=10)
    assert text_of(dash_duo, "limits-hr") == "↑110 ↓41", "the critical low where no low is set"
    assert dash_duo.get_logs() == []
    live.store.close()
