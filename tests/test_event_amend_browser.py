"""Correcting a dose start from the bed view in a real headless Chromium: "Dose end" waits for "Dose start" and
says so; a nurse is told a correction needs a clinician; a clinician's correction without a reason or to a
future time is refused, and with one the trend's event line, the time since the dose and the checkpoints move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import sign_in, text_of, type_into
from selenium.webdriver.common.by import By
from support import wait_for

from adapters.model.reading import Reading
from monitor.auth.accounts import Accounts
from monitor.limits.model import load_preset
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.auth import AuthSettings
from monitor.web.bed.figures import EVENT_TRACE, display_ms

pytestmark = pytest.mark.browser

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
NURSE, CLINICIAN = "nurse-ana", "dr-ben"
SET_PROPS = "window.dash_clientside.set_props(arguments[0], arguments[1]);"
EVENT_XS = f"return document.querySelector('#trend .js-plotly-plot').data[{EVENT_TRACE}].x.filter(x => x !== null);"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def dose_button(dash_duo, label: str):
    return dash_duo.driver.find_element(By.XPATH, f"//button[contains(., '{label}')]")


def amend(dash_duo, event_id: int, time_text: str, reason: str) -> None:
    """Fill the correction form and press "Correct time"."""
    dash_duo.driver.execute_script(SET_PROPS, "amend-event", {"value": str(event_id)})
    type_into(dash_duo.driver.find_element(By.ID, "amend-time"), time_text)
    type_into(dash_duo.driver.find_element(By.ID, "amend-reason"), reason)
    dash_duo.find_element("#amend-correct").click()


def test_a_clinician_corrects_a_dose_start_from_the_screen(dash_duo, tmp_path: Path) -> None:
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("correction", "live", session_type="iv-ketamine")
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), at(-30), "setup")
    for minute, (sbp, dbp) in {-25: (126, 79), -10: (128, 80), -5: (130, 82)}.items():
        store.samples.write(sid, [Reading(at(minute), "sbp", sbp), Reading(at(minute), "dbp", dbp)])
    store.sessions.set_clock(sid, at(0), datetime.now(UTC), 0.0)  # paused: "now" stays where it is put
    accounts = Accounts(store)
    accounts.add(NURSE, "nurse", "correct horse battery", by="test")
    accounts.add(CLINICIAN, "clinician", "correct horse battery", by="test")
    try:
        dash_duo.start_server(create_app(DashboardConfig(store, lambda: sid, UTC, auth=AuthSettings(required=True))),
                              navigate=False)
        base = dash_duo.server.url.rstrip("/")
        sign_in(dash_duo, base, NURSE, "nurse")

        # Before any dose, "Dose end" cannot be pressed, and the strip says why.
        wait_for(lambda: "Dose end is available once Dose start is entered" in text_of(dash_duo, "dose-hint"), 10,
                 "the reason Dose end waits")
        assert dose_button(dash_duo, "Dose end").get_attribute("disabled")
        dose_button(dash_duo, "Dose start").click()
        wait_for(lambda: "Dose start entered at 09:00:00" in text_of(dash_duo, "session-message"), 10,
                 "the dose start entered")
        wait_for(lambda: not dose_button(dash_duo, "Dose end").get_attribute("disabled"), 10, "Dose end enabled")
        assert text_of(dash_duo, "dose-hint") == ""
        [entered] = store.samples.events_with_authors(sid)

        # Twelve minutes on, the nurse finds the click was late: the screen tells her this is a clinician's.
        store.sessions.set_clock(sid, at(12), datetime.now(UTC), 0.0)
        amend(dash_duo, entered.id, "08:55:00", "clicked late")
        wait_for(lambda: "needs a clinician" in text_of(dash_duo, "amend-message"), 10, "the nurse refused")
        assert [e.time for e in store.samples.events(sid)] == [at(0)]

        dash_duo.find_element("#sign-out").click()
        wait_for(lambda: dash_duo.driver.current_url == base + "/login", 10, "the sign-in page after signing out")
        sign_in(dash_duo, base, CLINICIAN, "clinician")
        wait_for(lambda: "Dose +00:12:00" in text_of(dash_duo, "elapsed"), 10, "the time since the entered dose")
        amend(dash_duo, entered.id, "08:55:00", "")
        wait_for(lambda: "a reason is required" in text_of(dash_duo, "amend-message"), 10, "no reason refused")
        amend(dash_duo, entered.id, "09:30:00", "infusion started before the click")
        wait_for(lambda: "is in the future" in text_of(dash_duo, "amend-message"), 10, "a future time refused")
        assert [e.time for e in store.samples.events(sid)] == [at(0)]

        amend(dash_duo, entered.id, "08:55:00", "infusion started 08:55, clicked late")
        wait_for(lambda: "Dose start corrected to 08:55:00 by dr-ben" in text_of(dash_duo, "amend-message"), 10,
                 "the correction")
        assert [e.time for e in store.samples.events(sid)] == [at(-5)]
        # Everything on screen counts from 08:55: the event line, the time since the dose, the checkpoints.
        wait_for(lambda: dash_duo.driver.execute_script(EVENT_XS) == [display_ms(at(-5), UTC)] * 2, 10,
                 "the trend's event line moved")
        wait_for(lambda: "Dose +00:17:00" in text_of(dash_duo, "elapsed"), 10, "the time since the corrected dose")
        wait_for(lambda: "BP at 10 min (09:05:00)" in text_of(dash_duo, "checkpoint-list"), 10,
                 "the checkpoints from 08:55")
        assert [a.action for a in store.audit.entries(session_id=sid)][-1] == "event_corrected"
        assert ("forbidden", "needs amend") in [(a.action, a.new) for a in store.audit.entries(who=NURSE)]
        assert dash_duo.get_logs() == []
    finally:
        store.close()
