"""A limits change in a real headless Chromium: the trend keeps the old limits over the time they were in force
(issue 14, item 3)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import NO_SIGN_IN, wait_for

from adapters.files.csv_reader import read_session_csv
from adapters.files.replay import ReplaySource
from monitor.limits.model import load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed.figures import TRACE_INDEX, display_ms

pytestmark = pytest.mark.browser

# Each shape as the plot last drew it (Plotly's full layout, rebuilt at each redraw), x as display ms.
SHAPES = ("const g = document.querySelector('#trend .js-plotly-plot');"
          "if (!g || !g._fullLayout) return [];"
          "const x = g._fullLayout.xaxis;"
          "return g._fullLayout.shapes.map(s => [s.name, s.y0, x.r2c(s.x0), x.r2c(s.x1)]);")
HR_POINTS = ("const g = document.querySelector('#trend .js-plotly-plot');"
             "return g && g.data ? g.data[arguments[0]].x.length : 0;")


def test_after_a_limits_change_the_trends_old_part_keeps_the_old_lines(dash_duo, tmp_path: Path,
                                                                        sample_data: Path) -> None:
    recording = read_session_csv(sample_data / "iv_ketamine.csv")
    store = Store(tmp_path / "vigil.db")
    sid = store.sessions.create("limits history", "replay")
    preset = load_preset("iv-ketamine").to_dict()  # SYS high 179
    store.limits.save(sid, preset, datetime(2026, 1, 1, tzinfo=UTC), "clinician-setup")
    runner = ReplayRunner(store, sid, ReplaySource([*recording.readings, *recording.events], 300, time.monotonic()))
    runner.pause()  # held until the page is up: a slow page load must not let the replay run to its end unseen
    try:
        dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, UTC, timedelta(hours=3), runner,
                                                         auth=NO_SIGN_IN)))
        dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=20)
        runner.start()
        runner.resume()
        wait_for(lambda: dash_duo.driver.execute_script(HR_POINTS, TRACE_INDEX["hr"]) > 0, 10, "HR on the trend")

        # Mid-replay a clinician lowers SYS high to 150, effective at the session clock's "now" (as the editor
        # does); the replay is held meanwhile, so "now" is the replay's position.
        runner.pause()
        wait_for(lambda: runner.source.paused, 10, "the replay to pause")
        changed_at = store.sessions.info(sid).clock_now(datetime.now(UTC))
        assert changed_at is not None
        store.limits.save(sid, {**preset, "vitals": {**preset["vitals"], "sbp": {**preset["vitals"]["sbp"],
                                                                                  "high": 150.0}}},
                          changed_at, "dr.a")
        runner.set_speed("max")  # the rest of the recording as fast as the store takes it
        runner.resume()
        assert runner.wait(60), "the replay did not finish"

        first = min([r.time for r in recording.readings] + [e.time for e in recording.events])
        last = max(r.time for r in recording.readings)
        old = ["sbp-high", 179, display_ms(first, UTC), display_ms(changed_at, UTC)]
        new = ["sbp-high", 150, display_ms(changed_at, UTC), display_ms(last, UTC)]
        assert first < changed_at < last, "the change came mid-replay"

        def sbp_high() -> list:
            return [s for s in dash_duo.driver.execute_script(SHAPES) if s[0] == "sbp-high"]

        # The new line runs on with the readings that came after the change; the old one stays where it was.
        wait_for(lambda: sbp_high() == [old, new], 30, f"SYS high 179 until the change, then 150: {sbp_high()}")
        bands = [s for s in dash_duo.driver.execute_script(SHAPES) if s[0] == "band-sbp"]
        assert [(b[2], b[3]) for b in bands] == [(old[2], old[3]), (new[2], new[3])]
        assert dash_duo.get_logs() == []
    finally:
        runner.stop()
        store.close()
