"""Alarms in a real headless Chromium: banner and tile, acknowledgement, the limits editor, the audit trail."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import T0, LiveSession, field, open_panel, text_of, type_into
from selenium.webdriver.common.by import By
from support import NO_SIGN_IN, wait_for

from adapters.files.csv_reader import read_session_csv
from adapters.files.replay import ReplaySource
from adapters.model.reading import Event
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset, parse_limits
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app

pytestmark = pytest.mark.browser

OPERATOR = "nurse-ana"
LATCHED = "return [...document.querySelectorAll('#alarm-banner .alarm-item.latched span')].map(s => s.innerText);"
# The trend's shapes, none before Plotly has drawn it (the numerics and the stream may be there first).
SHAPES = """const graph = document.querySelector('#trend .js-plotly-plot');
return graph && graph.layout ? graph.layout.shapes.map(s => [s.name, s.y0]) : [];"""


@pytest.fixture
def live(tmp_path: Path):
    session = LiveSession(tmp_path / "alarms.db", load_preset("iv-ketamine").to_dict())
    # NIBP only, fed every 5 min: no continuous source, so no signal-loss alarm between feeds.
    session.feed(0, [("sbp", 125), ("dbp", 80), ("map", 95)], (Event(T0, "dose_start"),))
    yield session
    session.store.close()


def test_replayed_sbp_alarm_reaches_banner_and_tile_once_stored(dash_duo, tmp_path: Path, sample_data: Path) -> None:
    """What the screen shows follows the store: the alarm appears once its reading is committed. How fast is a
    figure for benchmarks/live_update.py (reading-to-screen latency), not a pass/fail test on a shared machine."""
    recording = read_session_csv(sample_data / "hypertensive.csv")
    store = Store(tmp_path / "replay.db")
    sid = store.sessions.create("hypertensive", "replay")
    start = recording.readings[0].time
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), start, OPERATOR)
    source = ReplaySource([*recording.readings, *recording.events], 1, time.monotonic())
    runner = ReplayRunner(store, sid, source, alarms=LiveAlarms(store, sid, expect_dose=True))
    runner.seek(start + timedelta(minutes=39, seconds=55))  # catch up to 5 s before SBP 184 at 40:00
    alarm_reading = start + timedelta(minutes=40)

    app = create_app(DashboardConfig(store, lambda: sid, runner=runner, operator=OPERATOR, auth=NO_SIGN_IN))
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    assert "SYS 184" not in dash_duo.find_element("#alarm-banner").text
    runner.start()
    try:
        banner = lambda: dash_duo.find_element("#alarm-banner").text  # noqa: E731
        wait_for(lambda: "SYS peak 184 mmHg > high 179" in banner(), 20, "the SBP alarm in the banner",
                 interval=0.02)
        assert any(r.vital == "sbp" for r in store.samples.readings(sid, alarm_reading, alarm_reading))
        wait_for(lambda: "alarm-medium" in (dash_duo.find_element("#tile-bp").get_attribute("class") or ""), 5,
                 "the BP tile in the medium-priority colour")
        assert "MEDIUM" in banner()
        # The low-priority rise, too: over the mean of the first two readings (129.75), by more than 39.
        assert "SYS peak 184 mmHg: +54.2 over baseline 129.8 (limit +39)" in banner()
        assert dash_duo.get_logs() == []
    finally:
        runner.stop()
        store.close()


def test_acknowledge_clears_a_latched_high_priority_alarm_and_is_audited(dash_duo, live: LiveSession) -> None:
    live.feed(300, [("sbp", 231), ("dbp", 100), ("map", 144)])  # above critical 219: high priority
    live.feed(600, [("sbp", 140), ("dbp", 85), ("map", 103)])  # back in range: the high alarm stays latched
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))

    dash_duo.wait_for_contains_text("#alarm-banner", "SYS peak 231 mmHg > critical high 219", timeout=10)
    dash_duo.wait_for_contains_text("#alarm-banner", "acknowledge to clear", timeout=10)
    assert "alarm-high" in dash_duo.find_element("#alarm-bar").get_attribute("class")
    assert "latched" in dash_duo.find_element("#tile-bp").get_attribute("class")

    dash_duo.find_element("#ack-button").click()
    dash_duo.wait_for_text_to_equal("#alarm-banner", "No active alarms", timeout=10)
    wait_for(lambda: "alarm-" not in dash_duo.find_element("#tile-bp").get_attribute("class").replace("vital-", ""),
             5, "the tile to lose its alarm colour")
    [entry] = [a for a in live.store.audit.entries(session_id=live.sid) if a.action == "acknowledge"]
    assert entry.who == OPERATOR and entry.target == "sbp limit high (high)"

    open_panel(dash_duo, "Audit trail")
    dash_duo.wait_for_contains_text("#audit-grid", "acknowledge", timeout=10)
    assert OPERATOR in dash_duo.find_element("#audit-grid").text
    open_panel(dash_duo, "Alarm history")
    # On the session clock (it stood at 09:10:00, the last reading), as every other time there: not wall-clock time.
    dash_duo.wait_for_contains_text("#alarm-history", f"{OPERATOR} at 09:10:00", timeout=10)
    assert [(a.acked_by, a.acked_session) for a in live.store.alarms.since(live.sid) if a.acked_at] == [
        (OPERATOR, T0 + timedelta(seconds=600))]
    # Every column's header reads in full.
    cut = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#alarm-history .ag-header-cell-text')]"
        ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.innerText);")
    assert cut == []
    assert dash_duo.get_logs() == []


def test_a_latched_episode_that_became_critical_says_its_peak_critical_limit_and_when(dash_duo,
                                                                                      live: LiveSession) -> None:
    """Not its last value against the critical limit ("SYS 201 > 219"), nor only when it began."""
    live.feed(300, [("sbp", 190), ("dbp", 95), ("map", 127)])  # 09:05 above high 179: medium
    live.feed(600, [("sbp", 231), ("dbp", 100), ("map", 144)])  # 09:10 above critical high 219: high
    live.feed(900, [("sbp", 201), ("dbp", 95), ("map", 130)])  # 09:15 still above 179: the same episode
    live.feed(1200, [("sbp", 140), ("dbp", 85), ("map", 103)])  # 09:20 in range: ended, latched
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))

    said = ("SYS peak 231 mmHg > critical high 219",
            "began 09:05:00 · high priority from 09:10:00 · ended 09:20:00 — acknowledge to clear")
    wait_for(lambda: dash_duo.driver.execute_script(LATCHED) == ["!!! HIGH", *said], 10, "the latched item")
    assert "SYS 201" not in text_of(dash_duo, "alarm-banner")
    # The tile is drawn by its own callback (readings, clock, alarms), a moment apart from the banner.
    tile = "const t = document.getElementById('tile-bp'); return [t.className.includes('alarm-high'), t.title];"
    wait_for(lambda: dash_duo.driver.execute_script(tile) == [True, f"HIGH: {said[0]} — {said[1]}"], 5,
             "the tile in the high colour, saying the same")

    open_panel(dash_duo, "Alarm history")
    dash_duo.wait_for_contains_text("#alarm-history", f"{said[0]} · high priority from 09:10:00", timeout=10)
    assert dash_duo.get_logs() == []


def test_a_limit_changed_in_the_editor_moves_the_bands_changes_alarms_and_is_audited(dash_duo,
                                                                                     live: LiveSession) -> None:
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    wait_for(lambda: ["sbp-high", 179] in dash_duo.driver.execute_script(SHAPES), 10, "the trend's SBP high line")

    live.feed(300, [("sbp", 160), ("dbp", 90), ("map", 113)])  # in range under the preset
    dash_duo.wait_for_text_to_equal("#num-bp", "160/90", timeout=10)
    assert dash_duo.find_element("#alarm-banner").text == "No active alarms"

    open_panel(dash_duo, "Limits")
    type_into(field(dash_duo, "sbp", "high"), "150")
    wait_for(lambda: dash_duo.find_element("#limits-apply").is_enabled(), 5, "Apply to be enabled")
    dash_duo.find_element("#limits-apply").click()
    dash_duo.wait_for_contains_text("#limits-message", f"Applied: version 2 by {OPERATOR}", timeout=10)
    wait_for(lambda: ["sbp-high", 150] in dash_duo.driver.execute_script(SHAPES), 5, "the band to move to 150")
    assert live.store.limits.version(live.sid) == 2

    # The engine evaluates from the change on: the next 160 is now above the limit.
    live.feed(600, [("sbp", 160), ("dbp", 90), ("map", 113)])
    dash_duo.wait_for_contains_text("#alarm-banner", "SYS peak 160 mmHg > high 150", timeout=10)
    [alarm] = [a.episode for a in live.store.alarms.since(live.sid)]
    assert alarm.onset == T0 + timedelta(seconds=600) and alarm.limit == 150

    changes = [(a.who, a.target, a.old, a.new) for a in live.store.audit.entries(session_id=live.sid)
               if a.action == "limits"]
    assert (OPERATOR, "vitals.sbp.high", "179", "150") in changes
    open_panel(dash_duo, "Audit trail")
    dash_duo.wait_for_contains_text("#audit-grid", "vitals.sbp.high", timeout=10)
    assert dash_duo.get_logs() == []


def test_an_invalid_limit_shows_why_and_changes_nothing(dash_duo, live: LiveSession) -> None:
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    shapes_before = wait_for(lambda: dash_duo.driver.execute_script(SHAPES), 10, "the trend drawn")

    open_panel(dash_duo, "Limits")
    type_into(field(dash_duo, "sbp", "high"), "250")  # above critical_high 219
    message = "SYS high (250) must be below SYS critical high (219)"  # named as on screen, not by file keys
    dash_duo.wait_for_text_to_equal("#limits-message", message, timeout=10)
    assert not dash_duo.find_element("#limits-apply").is_enabled()
    # The offending fields say so too.
    wait_for(lambda: message in dash_duo.driver.find_element(By.CLASS_NAME, "limits-table").text, 5,
             "the inline error under the field")

    # Even a request that gets through (Apply forced) changes nothing: validation runs again on the server.
    dash_duo.driver.execute_script("document.getElementById('limits-apply').disabled = false;")
    dash_duo.find_element("#limits-apply").click()
    time.sleep(1)
    assert live.store.limits.version(live.sid) == 1
    assert parse_limits(live.store.limits.current(live.sid) or {}) is not None
    assert dash_duo.driver.execute_script(SHAPES) == shapes_before
    assert not [a for a in live.store.audit.entries(session_id=live.sid)
                if a.action == "limits" and a.target != "limits"]
    assert dash_duo.get_logs() == []


def test_limits_of_an_ended_session_are_refused_on_screen_and_audited(dash_duo, live: LiveSession) -> None:
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    shapes_before = wait_for(lambda: dash_duo.driver.execute_script(SHAPES), 10, "the trend drawn")
    open_panel(dash_duo, "Limits")
    live.store.sessions.end(live.sid, "nurse-bo", datetime.now(UTC), T0 + timedelta(minutes=50))  # on another screen
    type_into(field(dash_duo, "sbp", "high"), "150")
    wait_for(lambda: dash_duo.find_element("#limits-apply").is_enabled(), 5, "Apply to be enabled")
    dash_duo.find_element("#limits-apply").click()
    dash_duo.wait_for_text_to_equal("#limits-message", "Not applied: the session has ended, and its record is "
                                    "closed.", timeout=10)
    assert live.store.limits.version(live.sid) == 1
    assert dash_duo.driver.execute_script(SHAPES) == shapes_before
    assert ([(a.who, a.action) for a in live.store.audit.entries(session_id=live.sid)][-1]
            == (OPERATOR, "limits_refused"))
    assert dash_duo.get_logs() == []


def test_sound_enable_audio_pause_and_break_through(dash_duo, live: LiveSession) -> None:
    live.feed(300, [("sbp", 190), ("dbp", 95), ("map", 127)])  # medium: SBP above 179
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_contains_text("#alarm-banner", "SYS peak 190 mmHg > high 179", timeout=10)
    log = lambda: dash_duo.driver.execute_script("return window.VigilAudio.log();")  # noqa: E731

    # Until a click enables it, sound is off, says so, and the alarm's bursts are only logged.
    assert dash_duo.find_element("#sound-toggle").text == "Sound off — click to enable"
    wait_for(lambda: any(e["priority"] == "medium" and not e["audible"] for e in log()), 5, "a silent medium burst")
    dash_duo.find_element("#sound-toggle").click()
    dash_duo.wait_for_text_to_equal("#sound-toggle", "Sound on", timeout=5)

    # Audio pause: a countdown from 2:00, and no burst while it runs.
    dash_duo.find_element("#audio-pause").click()
    dash_duo.wait_for_contains_text("#audio-pause", "AUDIO PAUSED 1:5", timeout=5)
    bursts = len(log())
    # A new alarm of the same priority does not break through ...
    live.feed(600, [("sbp", 190), ("dbp", 112), ("map", 138)])  # DBP above 109: medium
    dash_duo.wait_for_contains_text("#alarm-banner", "DIA peak 112 mmHg > high 109", timeout=10)
    time.sleep(1)
    assert "AUDIO PAUSED" in dash_duo.find_element("#audio-pause").text
    assert not [e for e in log()[bursts:] if e["audible"]]
    # ... a new, higher-priority one does, at once.
    live.feed(610, [("hr", 20)])  # HR far below 41: high priority once it has lasted its 10 s delay
    live.feed(621, [("hr", 20)])
    dash_duo.wait_for_contains_text("#alarm-banner", "HR lowest 20 bpm < critical low 41", timeout=10)
    dash_duo.wait_for_text_to_equal("#audio-pause", "Audio pause 2 min", timeout=5)
    wait_for(lambda: any(e["priority"] == "high" and e["audible"] for e in log()[bursts:]), 5, "an audible high burst")
    assert dash_duo.get_logs() == []


def test_choosing_a_preset_fills_the_editor_and_applies_as_a_whole(dash_duo, live: LiveSession) -> None:
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    open_panel(dash_duo, "Limits")
    assert field(dash_duo, "sbp", "high").get_attribute("value") == "179"
    dash_duo.driver.execute_script("window.dash_clientside.set_props('limits-preset', {value: 'news2'})")
    # NEWS2 has no SBP "high" band, only critical_high 219.
    wait_for(lambda: field(dash_duo, "sbp", "high").get_attribute("value") == "", 5, "the preset's values")
    assert field(dash_duo, "hr", "low").get_attribute("value") == "51"
    dash_duo.find_element("#limits-apply").click()
    dash_duo.wait_for_contains_text("#limits-message", "Applied: version 2", timeout=10)
    applied = live.store.limits.current(live.sid) or {}
    assert applied["preset"] == "news2" and "high" not in applied["vitals"]["sbp"]
    wait_for(lambda: "sbp-high" not in [n for n, _ in dash_duo.driver.execute_script(SHAPES)], 5, "no SBP high line")
    assert dash_duo.get_logs() == []


def test_a_limit_that_is_not_a_number_is_an_error_never_a_blank(dash_duo, live: LiveSession) -> None:
    """A blank field means "no limit": "abc" must not become one. It stays in the field, named as on screen."""
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    open_panel(dash_duo, "Limits")
    type_into(field(dash_duo, "sbp", "high"), "abc")
    message = "SYS high: 'abc' is not a number (leave the field blank for no limit)"
    dash_duo.wait_for_text_to_equal("#limits-message", message, timeout=10)
    assert field(dash_duo, "sbp", "high").get_attribute("value") == "abc"
    assert not dash_duo.find_element("#limits-apply").is_enabled()
    type_into(field(dash_duo, "sbp", "high"), "17O")  # a letter O for a zero
    dash_duo.wait_for_text_to_equal("#limits-message", message.replace("abc", "17O"), timeout=10)
    type_into(field(dash_duo, "sbp", "high"), "170")
    wait_for(lambda: dash_duo.find_element("#limits-apply").is_enabled(), 5, "Apply to be enabled")
    assert live.store.limits.version(live.sid) == 1
    assert dash_duo.get_logs() == []


def test_a_new_version_replaces_unapplied_edits_and_says_so(dash_duo, live: LiveSession) -> None:
    """A clinician is editing when another screen applies version 2: the fields show version 2, never her stale
    ones, and the tab says whose change it was and which of her edits were not applied. Applying from the old
    version is refused too, had the new one not reached her screen yet."""
    dash_duo.start_server(create_app(DashboardConfig(live.store, lambda: live.sid, operator=OPERATOR, auth=NO_SIGN_IN)))
    dash_duo.wait_for_text_to_equal("#link-status", "Live", timeout=10)
    open_panel(dash_duo, "Limits")
    type_into(field(dash_duo, "sbp", "high"), "150")
    type_into(field(dash_duo, "hr", "high"), "")

    version_2 = {**load_preset("iv-ketamine").to_dict()}
    version_2["vitals"]["spo2"]["low"] = 95
    live.store.limits.save(live.sid, version_2, T0 + timedelta(minutes=5), "dr-cho")  # on another screen

    label = "In force: version 2 (from preset iv-ketamine), set by dr-cho"
    dash_duo.wait_for_text_to_equal("#limits-version", label, timeout=10)
    wait_for(lambda: field(dash_duo, "spo2", "low").get_attribute("value") == "95", 5, "version 2's SpO2 low")
    assert field(dash_duo, "sbp", "high").get_attribute("value") == "179"
    assert field(dash_duo, "hr", "high").get_attribute("value") == "110"
    assert dash_duo.find_element("#limits-notice").text == (
        f"The limits were changed ({label}) while you were editing: your edits were not applied (SYS high 150, "
        "HR high blank). The fields now show version 2.")

    # A screen still showing version 1 (its stream behind) cannot apply over version 2.
    dash_duo.driver.execute_script("window.dash_clientside.set_props('limits-shown', {data: {version: 1}})")
    type_into(field(dash_duo, "sbp", "high"), "160")
    wait_for(lambda: dash_duo.find_element("#limits-apply").is_enabled(), 5, "Apply to be enabled")
    dash_duo.find_element("#limits-apply").click()
    dash_duo.wait_for_contains_text("#limits-message", "Not applied: the limits have changed meanwhile", timeout=10)
    assert live.store.limits.version(live.sid) == 2
    assert dash_duo.get_logs() == []
