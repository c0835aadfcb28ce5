"""The bed view in a real headless Chromium (dash_duo): live push from the store to the screen."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import TREND_TEXT, console_messages, open_panel, record_console
from selenium.webdriver.common.by import By
from support import NO_SIGN_IN, wait_for

from adapters.files.csv_reader import read_session_csv
from adapters.files.replay import ReplaySource
from adapters.model.reading import Event, Reading
from monitor.alarms.engine import Episode
from monitor.auth.accounts import Accounts
from monitor.limits.model import load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed.figures import TRACE_INDEX, display_ms

pytestmark = pytest.mark.browser

WINDOW = timedelta(minutes=30)

TRACE_X = (
    "const g = document.querySelector('#trend .js-plotly-plot');"
    "return g && g.data ? g.data.map(t => Array.from(t.x || [])) : [];"
)


@pytest.fixture
def replay_app(tmp_path: Path, sample_data: Path):
    recording = read_session_csv(sample_data / "iv_ketamine.csv")
    store = Store(tmp_path / "vigil.db")
    session_id = store.sessions.create("browser test", "replay")
    store.limits.save(session_id, load_preset("iv-ketamine").to_dict(), datetime(2026, 1, 1, tzinfo=UTC), "test")
    source = ReplaySource([*recording.readings, *recording.events], 600, time.monotonic())
    runner = ReplayRunner(store, session_id, source)
    app = create_app(DashboardConfig(store, lambda: session_id, UTC, WINDOW, runner, auth=NO_SIGN_IN))
    yield app, runner, recording
    runner.stop()
    store.close()


def test_replay_streams_to_numerics_and_trend(dash_duo, replay_app) -> None:
    app, runner, recording = replay_app
    dash_duo.start_server(app)
    # Slow at first, so the replay is still running when the browser has its first points however long a
    # loaded machine took to start it; then as fast as the store takes it, to stream the rest of the recording.
    runner.set_speed(60)
    runner.start()
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)

    hr = TRACE_INDEX["hr"]
    def newest_hr() -> float:
        xs = dash_duo.driver.execute_script(TRACE_X)[hr]
        return xs[-1] if xs else 0

    first = wait_for(newest_hr, 10, "HR points")
    wait_for(lambda: newest_hr() > first, 25, "the trend to gain points")  # the next redraw, ≤ 15 s on
    runner.set_speed("max")
    assert runner.wait(60), "replay did not finish"

    last = {r.vital: r for r in recording.readings}
    expected_bp = f"{last['sbp'].value:g}/{last['dbp'].value:g}"
    dash_duo.wait_for_text_to_equal("#num-bp", expected_bp, timeout=10)
    dash_duo.wait_for_text_to_equal("#num-hr", f"{last['hr'].value:g}", timeout=10)
    dash_duo.wait_for_text_to_equal("#num-spo2", f"{last['spo2'].value:g}", timeout=10)
    assert dash_duo.find_element("#num-map").text == f"MAP {last['map'].value:g}"

    # Every HR reading of the window (newest - WINDOW to newest) arrived exactly once and in order: no gap, no
    # duplicate.
    start = max(r.time for r in recording.readings) - WINDOW
    expected_x = [display_ms(r.time, UTC) for r in recording.readings if r.vital == "hr" and r.time >= start]
    wait_for(lambda: dash_duo.driver.execute_script(TRACE_X)[hr][-1] == expected_x[-1], 25, "the last HR point")
    assert dash_duo.driver.execute_script(TRACE_X)[hr] == expected_x

    dash_duo.wait_for_text_to_equal("#replay-position", "02:30:00 / 02:30:00", timeout=10)
    assert dash_duo.get_logs() == []


def test_replay_bar_pauses_and_resumes(dash_duo, replay_app) -> None:
    app, runner, _ = replay_app
    runner.set_speed(60)
    runner.start()
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#replay-play", "Pause", timeout=10)
    position = lambda: dash_duo.find_element("#replay-position").text  # noqa: E731
    start = position()
    wait_for(lambda: position() != start, 10, "the replay position to advance")

    dash_duo.find_element("#replay-play").click()
    wait_for(lambda: runner.source.paused, 10, "the server to pause the replay")
    dash_duo.wait_for_text_to_equal("#replay-play", "Play", timeout=10)
    held = position()
    time.sleep(2.5)  # at 60×, a running clock would move 2.5 min in this time
    assert position() == held

    dash_duo.find_element("#replay-play").click()
    wait_for(lambda: not runner.source.paused, 10, "the server to resume the replay")
    wait_for(lambda: position() != held, 10, "the position to move again")
    assert dash_duo.get_logs() == []


def test_ages_and_stale_values_follow_the_session_clock(dash_duo, tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
    store = Store(tmp_path / "stale.db")
    sid = store.sessions.create("stale test", "replay")
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), datetime(2026, 1, 1, tzinfo=UTC), "test")
    store.samples.write(sid, [
        Reading(t0, "sbp", 131), Reading(t0, "dbp", 84), Reading(t0, "map", 100),
        Reading(t0 + timedelta(seconds=200), "hr", 77), Reading(t0 + timedelta(seconds=235), "spo2", 96),
    ], [Event(t0 - timedelta(minutes=10), "dose_start")])
    # The session clock stands still (speed 0) 4 min after the NIBP and 40 s after the last HR.
    store.sessions.set_clock(sid, t0 + timedelta(seconds=240), datetime.now(UTC), 0.0)
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, auth=NO_SIGN_IN)))

    dash_duo.wait_for_text_to_equal("#num-bp", "131/84", timeout=10)
    dash_duo.wait_for_text_to_equal("#age-bp", "4 min ago", timeout=10)
    dash_duo.wait_for_text_to_equal("#age-hr", "40 s ago", timeout=10)
    dash_duo.wait_for_text_to_equal("#elapsed", "Dose +00:14:00", timeout=10)
    assert "stale" in dash_duo.find_element("#tile-hr").get_attribute("class"), "HR silent 40 s > 10 s signal loss"
    assert "stale" not in dash_duo.find_element("#tile-spo2").get_attribute("class"), "SpO2 5 s old < 10 s"
    assert "stale" not in dash_duo.find_element("#tile-bp").get_attribute("class"), "NIBP 4 min < 17 min overdue"
    assert "nodata" in dash_duo.find_element("#tile-rr").get_attribute("class")
    assert dash_duo.get_logs() == []
    store.close()


def test_speed_and_seek_from_the_bar_reach_the_replay(dash_duo, replay_app) -> None:
    """The bar's speed choice and seeks go to the server runner; seeking back rebuilds the view from the store."""
    app, runner, recording = replay_app
    runner.set_speed(10)
    runner.start()
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#replay-play", "Pause", timeout=10)
    set_props = "window.dash_clientside.set_props(arguments[0], arguments[1])"

    dash_duo.driver.execute_script(set_props, "replay-speed", {"value": "120"})
    wait_for(lambda: runner.source.speed == 120, 10, "the replay to run at 120×")

    start = recording.readings[0].time
    stored_until = lambda: max(r.time for r in runner.store.samples.latest(runner.session_id).values())  # noqa: E731
    dash_duo.driver.execute_script(set_props, "replay-seek", {"value": 3600})  # as if the slider were dropped at 1 h
    wait_for(lambda: stored_until() >= start + timedelta(hours=1), 10, "the catch-up to 1 h")
    runner.pause()  # held past 1 h, however late a loaded machine lets the browser show it
    wait_for(lambda: dash_duo.find_element("#replay-position").text.startswith("01:"), 10, "the position at 1 h")
    dash_duo.wait_for_text_to_equal("#replay-play", "Play", timeout=10)
    dash_duo.driver.execute_script(set_props, "replay-seek", {"value": 600})  # back to 10 min
    wait_for(lambda: stored_until() <= start + timedelta(minutes=10), 10, "the store to drop what follows 10 min")
    # The tab reloads from the store: its HR trace now ends at 10 min and the position says so.
    hr = TRACE_INDEX["hr"]
    ten_min = display_ms(start + timedelta(minutes=10), UTC)
    wait_for(lambda: dash_duo.find_element("#replay-position").text == "00:10:00 / 02:30:00", 15, "position 10 min")
    last_hr = lambda: (dash_duo.driver.execute_script(TRACE_X) or [[]] * (hr + 1))[hr][-1:]  # noqa: E731
    wait_for(lambda: last_hr() == [ten_min], 15, "the rebuilt trend")
    assert [e for e in dash_duo.get_logs() if "EventSource" not in e["message"]] == []


LINK_NOTE = '<a href="https://evil.example/phish">'
BIG_NOTE = '<span style="font-size:120px;fill:red">SpO2 100</span>'
ENTITY_NOTE = "AT&amp;T &lt;3 & <br>"  # entities and a tag typed as text stay as typed
# The event labels a trend draws, any link in its SVG, and the largest font size of its labels' text.
def test_notes_show_on_the_trend_as_typed_never_as_markup(dash_duo, tmp_path: Path) -> None:
    """Notes are text: "<a href=…>" is no link and "<span style=…>" no huge text, whether the note was on the
    trend when the page was built, arrived over the stream, or is reviewed on the history page."""
    now = datetime.now(UTC)
    store = Store(tmp_path / "notes.db")
    sid = store.sessions.create("notes", "live", patient_label="MRN-5")
    store.samples.write(sid, [Reading(now - timedelta(seconds=s), "hr", 72) for s in range(600, -1, -30)],
                        [Event(now - timedelta(minutes=5), "note", BIG_NOTE)])
    store.sessions.set_clock(sid, now, now, 1.0)
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)

    for typed in (LINK_NOTE, ENTITY_NOTE):  # entered by a nurse: streamed to the trend
        count = len(store.samples.events_with_authors(sid))
        dash_duo.find_element("#note-text").send_keys(typed)
        dash_duo.find_element("#note-add").click()
        wait_for(lambda: len(store.samples.events_with_authors(sid)) == count + 1, 10, "the note stored")  # noqa: B023
        wait_for(lambda: dash_duo.find_element("#note-text").get_attribute("value") == "", 10, "the box cleared")
    assert [s.event.text for s in store.samples.events_with_authors(sid)] == [BIG_NOTE, LINK_NOTE, ENTITY_NOTE]

    def trend(graph: str) -> dict | None:
        return dash_duo.driver.execute_script(TREND_TEXT, graph)

    expected = {"labels": [f"Note: {note}" for note in (BIG_NOTE, LINK_NOTE, ENTITY_NOTE)], "links": 0,
                "largest": 11}  # the labels' own font size, nothing larger
    wait_for(lambda: (trend("#trend") or {}).get("labels") == expected["labels"], 10, "the notes on the trend")
    assert trend("#trend") == expected

    open_panel(dash_duo, "Audit trail")  # where the notes show as text too
    audit_new = "#audit-grid .ag-cell[col-id=new]"
    wait_for(lambda: {LINK_NOTE, ENTITY_NOTE} <= {c.text for c in dash_duo.find_elements(audit_new)}, 10,
             "the notes in the audit trail")
    assert dash_duo.find_elements("#audit-grid a") == []

    dash_duo.driver.get(dash_duo.server_url + "/sessions/")
    dash_duo.wait_for_element("#sessions-grid .ag-row [col-id=date]", timeout=10).click()
    wait_for(lambda: trend("#review-trend"), 10, "the review's trend")
    assert trend("#review-trend") == expected
    assert dash_duo.get_logs() == []
    store.close()


def test_pages_with_a_grid_warn_of_nothing(dash_duo, tmp_path: Path) -> None:
    """Every AG Grid (alarm history, audit trail, sessions, course, audit page, users) with rows in it: no console
    warning, such as AG Grid's #25 for a row id that is not a string."""
    t0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
    store = Store(tmp_path / "grids.db")
    sid = store.sessions.create("grids", "replay", patient_label="MRN-5")
    store.samples.write(sid, [Reading(t0 + timedelta(seconds=s), "hr", 130) for s in range(0, 60, 5)])
    store.alarms.save(sid, [Episode("hr", "high", "limit", "medium", t0, t0, None, 130, 120, 130)])
    Accounts(store).add("nurse-ana", "nurse", "a passphrase", by="test")
    record_console(dash_duo)
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, auth=NO_SIGN_IN)))

    def rows(grid: str) -> list:
        return wait_for(lambda: dash_duo.find_elements(f"#{grid} .ag-center-cols-container .ag-row"), 10,
                        f"rows in {grid}")

    heard = {}
    open_panel(dash_duo, "Alarm history")
    rows("alarm-history")
    open_panel(dash_duo, "Audit trail")
    rows("audit-grid")
    heard["/"] = console_messages(dash_duo)
    dash_duo.driver.get(dash_duo.server_url + "/sessions/")
    rows("sessions-grid")[0].find_element(By.CSS_SELECTOR, "[col-id=date]").click()
    rows("course-grid")
    heard["/sessions/"] = console_messages(dash_duo)
    for page, grid in (("/audit/", "audit-all"), ("/users/", "users-grid")):
        dash_duo.driver.get(dash_duo.server_url + page)
        rows(grid)
        heard[page] = console_messages(dash_duo)
    assert heard == {"/": [], "/sessions/": [], "/audit/": [], "/users/": []}
    assert dash_duo.get_logs() == []
    store.close()


# Notes the page time of each trend redraw (vigil.js extends the trend through Plotly.extendTraces).
REDRAW_SPY = """
window.__redraws = [];
const extend = window.Plotly.extendTraces;
window.Plotly.extendTraces = function (...args) {
  window.__redraws.push(performance.now());
  return extend.apply(this, args);
};
"""


def live_page_with_redraw_spy(dash_duo, tmp_path: Path, now: datetime) -> tuple[Store, int]:
    """A live session holding the minute before `now`, its bed view up with Plotly loaded and REDRAW_SPY in place."""
    store = Store(tmp_path / "live.db")
    sid = store.sessions.create("live", "live")
    store.samples.write(sid, [Reading(now - timedelta(seconds=s), "hr", 70) for s in range(60, 0, -1)])
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    # The numerics and the stream may be up before Plotly has loaded.
    wait_for(lambda: dash_duo.driver.execute_script("return Boolean(window.Plotly)"), 10, "Plotly loaded")
    dash_duo.driver.execute_script(REDRAW_SPY)
    return store, sid


def test_each_reading_reaches_the_numerics_while_the_trend_redraws_at_most_every_15_s(dash_duo, tmp_path: Path) -> None:
    """A redraw replots the whole trend (tens of ms of the page's main thread): readings arriving faster are drawn
    together, while the numerics show every one of them, and the trend ends up with all of them."""
    now = datetime.now(UTC).replace(microsecond=0)
    store, sid = live_page_with_redraw_spy(dash_duo, tmp_path, now)
    values = [100 + k for k in range(8)]
    for k, value in enumerate(values):
        store.samples.write(sid, [Reading(now + timedelta(seconds=k), "hr", value)])
        wait_for(lambda v=value: dash_duo.find_element("#num-hr").text == str(v), 10, f"HR {value} on the numerics")
    hr = TRACE_INDEX["hr"]
    times = [display_ms(now + timedelta(seconds=k), UTC) for k in range(len(values))]
    wait_for(lambda: dash_duo.driver.execute_script(TRACE_X)[hr][-len(values):] == times, 30, "all on the trend")
    redraws = dash_duo.driver.execute_script("return window.__redraws")
    gaps = [b - a for a, b in itertools.pairwise(redraws)]
    # 15 s apart as scheduled, less what Dash's callback chain before a redraw varies by on a loaded machine
    assert redraws and all(gap >= 14000 for gap in gaps), f"{len(values)} readings, redraws {gaps} ms apart"
    store.close()


def test_a_cuff_result_is_drawn_on_the_trend_at_once(dash_duo, tmp_path: Path) -> None:
    """NIBP comes minutes apart and is what the trend is read for: it does not wait for the next 15-s redraw."""
    now = datetime.now(UTC).replace(microsecond=0)
    store, sid = live_page_with_redraw_spy(dash_duo, tmp_path, now)
    store.samples.write(sid, [Reading(now, "hr", 71)])  # drawn at once: the next redraw is 15 s away
    wait_for(lambda: dash_duo.driver.execute_script("return window.__redraws.length") == 1, 10, "a first redraw")
    cuff = now + timedelta(seconds=1)
    store.samples.write(sid, [Reading(cuff, "sbp", 150), Reading(cuff, "dbp", 90), Reading(cuff, "map", 110)])
    sbp = TRACE_INDEX["sbp"]
    wait_for(lambda: dash_duo.driver.execute_script(TRACE_X)[sbp][-1:] == [display_ms(cuff, UTC)], 10,
             "the cuff result on the trend")
    first, second = dash_duo.driver.execute_script("return window.__redraws")
    assert second - first < 10000, f"the cuff result drawn {second - first:.0f} ms after the redraw before it"
    store.close()


# Notes every clientside callback Dash runs (it looks each function up in `dash_clientside` when it calls it) and
# every `set_props` (which triggers the callbacks of what it sets).
CALLBACK_SPY = """
window.__calls = [];
for (const [namespace, functions] of Object.entries(window.dash_clientside)) {
  if (!functions || typeof functions !== "object") continue;
  for (const [name, fn] of Object.entries(functions)) {
    if (typeof fn !== "function") continue;
    functions[name] = function (...args) { window.__calls.push(namespace + "." + name); return fn.apply(this, args); };
  }
}
const setProps = window.dash_clientside.set_props;
window.dash_clientside.set_props = function (id, props) {
  window.__calls.push("set_props " + id);
  return setProps(id, props);
};
"""


def test_the_numerics_and_clock_follow_the_stream_and_the_clock_with_no_dash_callback(dash_duo, tmp_path: Path) -> None:
    """A Dash callback costs the page's main thread several ms whatever it changes: the numerics, their ages and the
    clock are written by the page's own painter, as each message arrives and each second, with none."""
    now = datetime.now(UTC).replace(microsecond=0)
    store = Store(tmp_path / "painter.db")
    sid = store.sessions.create("painter", "live")
    store.sessions.set_clock(sid, now, now, 1.0)  # the session clock runs with the wall clock
    store.samples.write(sid, [Reading(now - timedelta(seconds=s), "hr", 70) for s in range(30, 0, -1)])
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    dash_duo.driver.execute_script(CALLBACK_SPY)

    clock = dash_duo.find_element("#clock-text").text
    for value in (101, 102, 103):
        store.samples.write(sid, [Reading(datetime.now(UTC), "hr", value)])
        wait_for(lambda v=value: dash_duo.find_element("#num-hr").text == str(v), 10, f"HR {value} on the numerics")
    wait_for(lambda: dash_duo.find_element("#clock-text").text != clock, 5, "the clock to move on")
    wait_for(lambda: dash_duo.find_element("#age-hr").text not in ("", "0 s ago"), 10, "the age to grow")
    assert dash_duo.driver.execute_script("return window.__calls") == []
    assert "nodata" not in dash_duo.find_element("#tile-hr").get_attribute("class")
    store.close()


def test_a_replay_at_any_speed_shows_its_speed_and_then_its_end(dash_duo, tmp_path: Path) -> None:
    """`--speed 30` (not among the bar's usual choices) shows as 30×; when the recording is over the badge says the
    replay ended (not a green "Live" over a clock standing still) and ages are counted back from its end."""
    t0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
    items = [Reading(t0 + timedelta(seconds=s), "hr", 70) for s in range(0, 91)]
    items += [Reading(t0, "sbp", 120), Reading(t0, "dbp", 80), Reading(t0, "map", 93)]
    store = Store(tmp_path / "end.db")
    sid = store.sessions.create("ending replay", "replay")
    runner = ReplayRunner(store, sid, ReplaySource(items, 30, time.monotonic()))
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, UTC, WINDOW, runner, auth=NO_SIGN_IN)))
    runner.start()
    try:
        assert dash_duo.wait_for_element("#replay-speed", timeout=10).get_attribute("value") == "30×"
        assert runner.wait(30), "replay did not finish"
        dash_duo.wait_for_text_to_equal("#link-status", "Replay ended", timeout=10)
        assert "link-ended" in dash_duo.find_element("#link-status").get_attribute("class")
        dash_duo.wait_for_text_to_equal("#clock-text", "09:01:30", timeout=10)
        dash_duo.wait_for_text_to_equal("#age-hr", "0 s before end", timeout=10)
        assert dash_duo.find_element("#age-bp").text == "1 min before end"
        # The bar follows the position once a second (a Dash callback), after the numerics' paint: wait for it.
        dash_duo.wait_for_text_to_equal("#replay-position", "00:01:30 / 00:01:30", timeout=10)
        assert dash_duo.get_logs() == []
    finally:
        runner.stop()
        store.close()
