"""The bed view's trend in a real headless Chromium: one window for every trace that follows the newest reading
(the same after a reload), looking back over the whole session, and the tabular trend of the NIBP cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import open_panel
from selenium.webdriver.common.by import By
from support import NO_SIGN_IN, wait_for

from adapters.model.reading import Reading
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed.figures import TRACE_INDEX, display_ms

pytestmark = pytest.mark.browser

WINDOW = timedelta(hours=1)  # the bed view's default
# Each trace's x values, the time axis's range in display ms, and which figure is shown (its layout.meta).
TREND = """
const g = document.querySelector('#trend .js-plotly-plot');
if (!g || !g.data || !g._fullLayout) return null;
const axis = g._fullLayout.xaxis3;
return {x: g.data.map(t => Array.from(t.x || [])), range: axis.range.map(r => axis.r2l(r)),
        meta: g.layout.meta || null};
"""


def nibp(t: datetime, sbp: float, dbp: float, mean: float) -> list[Reading]:
    return [Reading(t, "sbp", sbp), Reading(t, "dbp", dbp), Reading(t, "map", mean)]


def every_10_s(start: datetime, end: datetime, vital: str, value: float) -> list[Reading]:
    return [Reading(start + timedelta(seconds=s), vital, value)
            for s in range(0, int((end - start).total_seconds()), 10)]


class LongSession:
    """A live session 70 min long when the page opens with its first hour stored (the 197 peak 5 min in); the
    last 10 min arrive over the stream, so the peak and the first 10 min leave the live window."""

    def __init__(self, tmp_path: Path) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.t0 = self.now - timedelta(minutes=70)
        self.peak = self.t0 + timedelta(minutes=5)
        self.store = Store(tmp_path / "long.db")
        self.sid = self.store.sessions.create("long", "live")
        self.first = self.readings(self.t0, self.now - timedelta(minutes=10))
        self.store.samples.write(self.sid, self.first)
        self.store.sessions.set_clock(self.sid, self.now, self.now, 1.0)
        self.app = create_app(DashboardConfig(self.store, lambda: self.sid, UTC, WINDOW, auth=NO_SIGN_IN))

    def readings(self, start: datetime, end: datetime) -> list[Reading]:
        cuff = [r for k in range(int((end - start) / timedelta(minutes=5)))
                for r in nibp(start + timedelta(minutes=5 * k), 197 if start + timedelta(minutes=5 * k) == self.peak
                              else 130, 80, 97)]
        return sorted([*every_10_s(start, end, "hr", 72), *every_10_s(start, end, "spo2", 97), *cuff],
                      key=lambda r: r.time)

    def stream_the_rest(self) -> list[Reading]:
        rest = self.readings(self.now - timedelta(minutes=10), self.now + timedelta(seconds=1))
        self.store.samples.write(self.sid, rest)
        return rest


@pytest.fixture
def long_session(tmp_path: Path):
    session = LongSession(tmp_path)
    yield session
    session.store.close()


def trend(dash_duo) -> dict | None:
    return dash_duo.driver.execute_script(TREND)


def ms(t: datetime) -> int:
    return display_ms(t, UTC)


def wait_for_trend_end(dash_duo, newest: datetime) -> dict:
    """The trend once its HR trace and its axis end at `newest`."""
    hr = TRACE_INDEX["hr"]
    return wait_for(lambda: (lambda t: t if t and t["x"][hr][-1:] == [ms(newest)] and t["range"][1] == ms(newest)
                             else None)(trend(dash_duo)), 15, "the trend to end at the newest reading")


def test_every_trace_keeps_one_window_that_follows_the_newest_reading_and_a_reload_shows_the_same(
        dash_duo, long_session: LongSession) -> None:
    dash_duo.start_server(long_session.app)
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    newest = long_session.stream_the_rest()[-1].time
    before = wait_for_trend_end(dash_duo, newest)

    start = ms(newest - WINDOW)
    assert before["range"] == [start, ms(newest)]
    for vital, i in TRACE_INDEX.items():  # nothing before the window, in any trace (the peak has left it)
        assert all(x >= start for x in before["x"][i]), vital
    assert ms(long_session.peak) not in before["x"][TRACE_INDEX["sbp"]]
    assert before["x"][TRACE_INDEX["sbp"]][0] == ms(long_session.now - timedelta(minutes=60))

    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    after = wait_for_trend_end(dash_duo, newest)
    assert after == before
    assert dash_duo.get_logs() == []


def test_looking_back_shows_the_whole_session_and_live_returns_with_what_arrived_meanwhile(
        dash_duo, long_session: LongSession) -> None:
    store, sid = long_session.store, long_session.sid
    dash_duo.start_server(long_session.app)
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    newest = long_session.stream_the_rest()[-1].time
    wait_for_trend_end(dash_duo, newest)
    sbp, hr = TRACE_INDEX["sbp"], TRACE_INDEX["hr"]

    choose = "//*[contains(@class, 'trend-view')]//label[contains(., '{}')]"
    dash_duo.driver.find_element(By.XPATH, choose.format("Whole session")).click()
    looked = wait_for(lambda: (lambda t: t if t and t["meta"] == "session" else None)(trend(dash_duo)), 15,
                      "the whole session on the trend")
    every_sbp = [ms(r.time) for r in store.samples.readings(sid) if r.vital == "sbp"]
    assert looked["x"][sbp] == every_sbp  # every cuff cycle, the 197 peak included
    assert looked["x"][hr][0] == ms(long_session.t0)

    # Readings arrive while looking back: the numerics follow them, the trend holds still.
    later = [Reading(newest + timedelta(seconds=s), "hr", 80 + s) for s in range(1, 6)]
    store.samples.write(sid, later)
    dash_duo.wait_for_text_to_equal("#num-hr", "85", timeout=10)
    assert trend(dash_duo) == looked

    dash_duo.driver.find_element(By.XPATH, choose.format("Last 60 min")).click()
    back = wait_for_trend_end(dash_duo, later[-1].time)
    start = later[-1].time - WINDOW
    expected_hr = [ms(r.time) for r in store.samples.readings(sid) if r.vital == "hr" and r.time >= start]
    assert back["meta"] is None
    assert back["x"][hr] == expected_hr  # each reading once, those that came while looking back included
    assert ms(long_session.peak) not in back["x"][sbp]
    assert dash_duo.get_logs() == []


# The table's rows as shown, top to bottom.
TABLE = """
const rows = Array.from(document.querySelectorAll('#vitals-table .ag-center-cols-container .ag-row'));
rows.sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')));
return rows.map(r => ['time', 'sbp', 'dbp', 'map', 'hr', 'spo2'].map(
  c => (r.querySelector('[col-id=' + c + ']') || {innerText: '?'}).innerText));
"""


def test_the_vitals_table_lists_each_nibp_cycle_with_the_hr_and_spo2_at_its_time(dash_duo, tmp_path: Path) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    store = Store(tmp_path / "table.db")
    sid = store.sessions.create("table", "live")
    hr = [Reading(t0 + timedelta(seconds=10 * k), "hr", 60 + k) for k in range(60)]  # HR 60, 61, … every 10 s
    spo2 = [Reading(t0 + timedelta(seconds=10 * k + 5), "spo2", 90 + k % 10) for k in range(60)]  # 5 s later
    cuffs = [*nibp(t0 - timedelta(minutes=5), 150, 95, 113),  # before the oximeter was on: no HR or SpO2 then
             *nibp(t0 + timedelta(seconds=62), 141, 88, 106),  # HR of 60 s (2 s before), SpO2 of 65 s (3 s after)
             *nibp(t0 + timedelta(seconds=300), 128, 79, 95)]  # HR of 300 s; SpO2 of 295 s (the earlier of a tie)
    store.samples.write(sid, sorted([*hr, *spo2, *cuffs], key=lambda r: r.time))
    store.sessions.set_clock(sid, t0 + timedelta(minutes=10), datetime.now(UTC), 1.0)
    dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, UTC, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    open_panel(dash_duo, "Vitals table")

    def hms(t: datetime) -> str:
        return t.strftime("%H:%M:%S")

    expected = [
        [hms(t0 + timedelta(seconds=300)), "128", "79", "95", "90", "99"],
        [hms(t0 + timedelta(seconds=62)), "141", "88", "106", "66", "96"],
        [hms(t0 - timedelta(minutes=5)), "150", "95", "113", "", ""],
    ]
    wait_for(lambda: dash_duo.driver.execute_script(TABLE) == expected, 10, "the table of the stored cycles")

    cycle = t0 + timedelta(seconds=421)  # a new cuff cycle arrives: on top, with the HR of 420 s, SpO2 of 425 s
    store.samples.write(sid, nibp(cycle, 135, 84, 101))
    wait_for(lambda: dash_duo.driver.execute_script(TABLE) == [[hms(cycle), "135", "84", "101", "102", "92"],
                                                                *expected], 10, "the new cycle on top")
    assert dash_duo.get_logs() == []
    store.close()
