"""The esketamine session in a real headless Chromium: set-up, device events, the 40-min BP checkpoint
going due and overdue on the replay clock, the countdown, and "end session" refused before 120 min and
allowed after."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import text_of
from selenium.webdriver.common.by import By
from support import NO_SIGN_IN, wait_for

from adapters.files.replay import ReplaySource
from adapters.model.reading import Event, Reading
from monitor.alarms.live import LiveAlarms
from monitor.limits.model import load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app

pytestmark = pytest.mark.browser

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
NURSE = "nurse-ana"
SET_PROPS = "window.dash_clientside.set_props(arguments[0], arguments[1]);"
SHAPE_NAMES = "return document.querySelector('#trend .js-plotly-plot').layout.shapes.map(s => s.name);"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def recording() -> list[Reading | Event]:
    """Two hours and a bit of HR/SpO2 every 5 s — closer than the 10 s signal-loss limit, so no technical alarm
    depends on how long a step of the test takes —; NIBP twice before the dose and at 20, 50, 100, 118 min
    (none near 40 min). No dose events: the nurse enters them."""
    items: list[Reading | Event] = []
    for s in range(-15 * 60, 135 * 60, 5):
        t = T0 + timedelta(seconds=s)
        items += [Reading(t, "hr", 72), Reading(t, "spo2", 98)]
    for minute, (sbp, dbp) in {-10: (128, 80), -5: (130, 82), 20: (136, 84), 50: (138, 86), 100: (132, 82),
                               118: (130, 81)}.items():
        items += [Reading(at(minute), "sbp", sbp), Reading(at(minute), "dbp", dbp)]
    return sorted(items, key=lambda i: i.time)


def click(dash_duo, xpath: str) -> None:
    dash_duo.driver.find_element(By.XPATH, xpath).click()


def seek(runner: ReplayRunner, store: Store, target: datetime) -> None:
    """Move the replay forward and wait until what falls before `target` is stored."""
    runner.seek(target)
    deadline = time.monotonic() + 10
    while max((r.time for r in store.samples.latest(runner.session_id).values()), default=T0) < target - \
            timedelta(seconds=30):
        assert time.monotonic() < deadline, "the replay did not catch up"
        time.sleep(0.05)


def test_esketamine_session_from_set_up_to_discharge(dash_duo, tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("esketamine flow", "replay", bed="bed-4")
    items = recording()
    source = ReplaySource(items, 1, time.monotonic())
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), source.start, "setup")
    runner = ReplayRunner(store, sid, source, alarms=LiveAlarms(store, sid))
    runner.start()
    try:
        seek(runner, store, at(-1))
        app = create_app(DashboardConfig(store, lambda: sid, UTC, operator=NURSE, auth=NO_SIGN_IN))
        dash_duo.start_server(app)
        wait_for(lambda: "Pre-dose · baseline 129/81 (2 NIBP)" in text_of(dash_duo, "next-checkpoint"), 15,
                 "the pre-dose baseline in the session strip")

        # Set-up: type, patient label (an identifier) and the esketamine preset; the page rebuilds for the type.
        for component, value in (("setup-type", "esketamine"), ("setup-patient", "MRN-0042"),
                                 ("setup-preset", "esketamine")):
            dash_duo.driver.execute_script(SET_PROPS, component, {"value": value})
        dash_duo.find_element("#setup-save").click()
        wait_for(lambda: "Esketamine" in text_of(dash_duo, "session-type"), 15, "the page rebuilt for esketamine")
        wait_for(lambda: "Patient MRN-0042" in text_of(dash_duo, "session-patient"), 10, "the patient label")
        info = store.sessions.info(sid)
        assert (info.session_type, info.patient_label) == ("esketamine", "MRN-0042")
        assert store.limits.current(sid) == load_preset("esketamine").to_dict()

        # One click per device; who and when are stored.
        click(dash_duo, "//button[contains(., 'Device 1')]")
        wait_for(lambda: "Device 1 entered" in text_of(dash_duo, "session-message"), 10, "device 1 entered")
        click(dash_duo, "//button[contains(., 'Device 2')]")
        wait_for(lambda: "Device 2 entered" in text_of(dash_duo, "session-message"), 10, "device 2 entered")
        entered = store.samples.events_with_authors(sid)
        assert [(s.event.kind, s.entered_by) for s in entered] == [("device_1", NURSE), ("device_2", NURSE)]
        first_device = entered[0].event.time
        assert dash_duo.driver.find_element(By.XPATH, "//button[contains(., 'Device 1')]").get_attribute("disabled")

        # 37 min after the first device: the 40-min BP is due in 3 min; the peak window is shaded.
        seek(runner, store, first_device + timedelta(minutes=37))
        wait_for(lambda: "BP at 40 min: due in 3 min" in text_of(dash_duo, "next-checkpoint"), 15,
                 "the 40-min checkpoint due in 3 min")
        assert "Discharge not before 01:2" in text_of(dash_duo, "observation")  # 83 min left
        assert "peak-window" in dash_duo.driver.execute_script(SHAPE_NAMES)

        # "End session" before 120 min is refused without an override reason, and nothing changes.
        dash_duo.find_element("#end-button").click()
        wait_for(lambda: "Override needed" in text_of(dash_duo, "readiness"), 10, "the readiness summary")
        dash_duo.find_element("#end-confirm").click()
        wait_for(lambda: "cannot end the session yet" in text_of(dash_duo, "end-message"), 10, "the refusal")
        assert store.sessions.info(sid).ended is None
        dash_duo.driver.find_element(By.CSS_SELECTOR, ".mantine-Modal-close").click()
        # The next click must reach the page, not the closing dialog's overlay.
        wait_for(lambda: not dash_duo.driver.find_elements(By.CSS_SELECTOR, ".mantine-Modal-overlay"), 10,
                 "the dialog to close")

        # Past 45 min with no BP: overdue on screen and as a technical alarm from the engine.
        seek(runner, store, first_device + timedelta(minutes=46))
        wait_for(lambda: "OVERDUE" in text_of(dash_duo, "next-checkpoint"), 15, "the checkpoint overdue")
        wait_for(lambda: "BP at 40 min overdue" in text_of(dash_duo, "alarm-banner"), 15, "the technical alarm")

        # After 120 min the session may end without an override.
        seek(runner, store, first_device + timedelta(minutes=121))
        wait_for(lambda: "Minimum observation complete" in text_of(dash_duo, "observation"), 15,
                 "the observation minimum reached")
        dash_duo.find_element("#end-button").click()
        wait_for(lambda: "The session may end now." in text_of(dash_duo, "readiness"), 10, "no override needed")
        dash_duo.find_element("#end-confirm").click()
        wait_for(lambda: "Session ended" in text_of(dash_duo, "next-checkpoint"), 15, "the session shown ended")
        info = store.sessions.info(sid)
        assert info.ended is not None and info.ended >= first_device + timedelta(minutes=120)
        assert info.ended_by == NURSE
        assert [a.action for a in store.audit.entries(session_id=sid)][-1] == "session_end"
        assert not [a for a in store.audit.entries(session_id=sid) if a.action == "discharge_override"]
        assert dash_duo.get_logs() == []

        # The bed view's record link opens the session record: the REMS fields hold what was measured and
        # entered, and the ready-to-leave minute, never entered, reads "not recorded".
        link = dash_duo.driver.find_element(By.XPATH, "//a[contains(., 'Session record')]")
        assert link.get_attribute("href").endswith(f"/report/{sid}.html")
        dash_duo.driver.get(link.get_attribute("href"))
        page = wait_for(lambda: dash_duo.driver.find_element(By.TAG_NAME, "body").text, 10, "the record page")
        assert "MRN-0042" in page and "REMS patient monitoring form" in page
        assert "130/82" in page  # BP prior to administration: the last one before the first device
        assert "BP at 40 min" in page and "Device 2" in page
        ready = next(line for line in page.splitlines() if line.startswith("Would have been ready"))
        assert ready.endswith("not recorded")
    finally:
        runner.stop()
        store.close()
