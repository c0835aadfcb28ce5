"""Sign-in in a real headless Chromium: a nurse sees the limits read-only and acknowledges an alarm, a
clinician changes a limit; both named in the store and the audit trail, with no console error (the server
sends a strict Content-Security-Policy, so a violation would show up there)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import PASSWORD, field, open_panel, second_browser, sign_in, text_of, type_into
from selenium.webdriver.common.by import By
from support import wait_for

from adapters.model.reading import Event, Reading
from monitor.alarms.live import LiveAlarms
from monitor.auth.accounts import Accounts
from monitor.limits.model import load_preset
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.auth import AuthSettings

pytestmark = pytest.mark.browser

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
NURSE, CLINICIAN = "nurse-ana", "dr-ben"
SET_PROPS = "window.dash_clientside.set_props(arguments[0], arguments[1]);"


@dataclass
class Bed:
    store: Store
    sid: int
    alarms: LiveAlarms

    def feed(self, seconds: float, readings: list[tuple[str, float]], events: tuple[Event, ...] = ()) -> None:
        """As the acquisition runner does: commit, then run the alarm engine, then move the session clock."""
        t = T0 + timedelta(seconds=seconds)
        batch = [Reading(t, vital, value) for vital, value in readings]
        self.store.samples.write(self.sid, batch, list(events))
        self.alarms.process(batch, list(events))
        self.store.sessions.set_clock(self.sid, t, datetime.now(UTC), 0.0)


@pytest.fixture
def bed(tmp_path: Path) -> Iterator[Bed]:
    """A live-style session under the IV-ketamine preset, a nurse and a clinician who may sign in."""
    store = Store(tmp_path / "auth.db")
    sid = store.sessions.create("auth test", "live")
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), T0, "clinician-setup")
    accounts = Accounts(store)
    accounts.add(NURSE, "nurse", PASSWORD, by="test")
    accounts.add(CLINICIAN, "clinician", PASSWORD, by="test")
    b = Bed(store, sid, LiveAlarms(store, sid, expect_dose=True))
    # NIBP only, fed by hand: no continuous source, so no signal-loss alarm between feeds.
    b.feed(0, [("sbp", 125), ("dbp", 80), ("map", 95)], (Event(T0, "dose_start"),))
    yield b
    store.close()


def start(dash_duo, bed: Bed) -> str:
    """The bed view with sign-in required; `/` redirects to the sign-in page, so nothing is navigated yet."""
    app = create_app(DashboardConfig(bed.store, lambda: bed.sid, UTC, auth=AuthSettings(required=True)))
    dash_duo.start_server(app, navigate=False)
    return dash_duo.server.url.rstrip("/")


def open_limits(dash_duo) -> None:
    dash_duo.driver.execute_script(SET_PROPS, "panels", {"value": "limits"})
    wait_for(lambda: field(dash_duo, "sbp", "high").is_displayed(), 5, "the limits editor")


def test_nurse_sees_limits_read_only_and_acknowledges_an_alarm(dash_duo, bed: Bed) -> None:
    bed.feed(300, [("sbp", 231), ("dbp", 100), ("map", 144)])  # above critical 219: high priority
    base = start(dash_duo, bed)

    # A refused sign-in stays on the sign-in page and says why, without saying which part was wrong.
    dash_duo.driver.get(base + "/login")
    dash_duo.driver.find_element(By.ID, "name").send_keys(NURSE)
    dash_duo.driver.find_element(By.ID, "password").send_keys("not the password")
    dash_duo.driver.find_element(By.ID, "sign-in").click()
    assert wait_for(lambda: text_of(dash_duo, "sign-in-message"), 10, "the refusal") == "Wrong name or password."
    # The refusal is answered 401, which Chromium logs as a failed resource load: that one entry, nothing else.
    logs = dash_duo.get_logs()
    assert [(e["source"], e["message"]) for e in logs] == [
        ("network", f"{base}/login - Failed to load resource: the server responded with a status of 401 (UNAUTHORIZED)")
    ]
    dash_duo.reset_log_timestamp()

    sign_in(dash_duo, base, NURSE, "nurse")
    dash_duo.wait_for_contains_text("#alarm-banner", "SYS peak 231 mmHg > critical high 219", timeout=10)

    # The limits editor: the same table, read-only; no preset choice, no Apply, and a note saying why.
    open_limits(dash_duo)
    sbp_high = field(dash_duo, "sbp", "high")
    assert sbp_high.get_attribute("readonly") is not None
    assert sbp_high.get_attribute("value") == "179"
    sbp_high.click()
    type_into(sbp_high, "150")
    assert field(dash_duo, "sbp", "high").get_attribute("value") == "179"
    assert field(dash_duo, "hr", "low").get_attribute("readonly") is not None
    assert not dash_duo.find_element("#limits-preset").is_enabled()
    assert not dash_duo.find_element("#limits-apply").is_displayed()
    assert "no-limits" in dash_duo.find_element(".bed-view").get_attribute("class").split()
    assert dash_duo.find_element("#limits-read-only").is_displayed()
    assert text_of(dash_duo, "limits-read-only") == "Read-only: only a clinician can change limits."

    # Acknowledge works, in the nurse's name.
    assert dash_duo.find_element("#ack-button").is_displayed()
    dash_duo.find_element("#ack-button").click()
    dash_duo.wait_for_contains_text("#alarm-banner", f"acknowledged by {NURSE}", timeout=10)
    # One press acknowledges both active alarms (the high SBP and the low-priority rise from baseline).
    alarms = bed.store.alarms.since(bed.sid)
    assert len(alarms) == 2 and all(a.acked_by == NURSE and a.acked_at is not None for a in alarms)
    acks = [(a.who, a.target) for a in bed.store.audit.entries(session_id=bed.sid) if a.action == "acknowledge"]
    assert len(acks) == 2 and (NURSE, "sbp limit high (high)") in acks and {who for who, _ in acks} == {NURSE}
    # Nothing the nurse's screen did was refused, and the limits are as they were.
    assert not [a for a in bed.store.audit.entries() if a.action == "forbidden"]
    assert bed.store.limits.version(bed.sid) == 1
    assert dash_duo.get_logs() == []

    # Sign out: back to the sign-in page, and the bed view asks for a sign-in again.
    dash_duo.find_element("#sign-out").click()
    wait_for(lambda: dash_duo.driver.current_url == base + "/login", 10, "the sign-in page after signing out")
    dash_duo.driver.get(base + "/")
    wait_for(lambda: dash_duo.driver.current_url == base + "/login?next=/", 10, "the redirect after signing out")
    actions = [(a.who, a.action) for a in bed.store.audit.entries(who=NURSE)]
    assert (NURSE, "sign_in") in actions and (NURSE, "sign_out") in actions
    assert dash_duo.get_logs() == []


def test_clinician_changes_a_limit_in_their_own_name(dash_duo, bed: Bed) -> None:
    base = start(dash_duo, bed)
    sign_in(dash_duo, base, CLINICIAN, "clinician")

    open_limits(dash_duo)
    assert not dash_duo.driver.find_elements(By.ID, "limits-read-only")
    assert dash_duo.find_element("#limits-preset").is_enabled()
    assert dash_duo.find_element("#limits-apply").is_displayed()
    sbp_high = field(dash_duo, "sbp", "high")
    assert sbp_high.get_attribute("readonly") is None
    type_into(sbp_high, "150")
    wait_for(lambda: dash_duo.find_element("#limits-apply").is_enabled(), 5, "Apply to be enabled")
    dash_duo.find_element("#limits-apply").click()
    dash_duo.wait_for_contains_text("#limits-message", f"Applied: version 2 by {CLINICIAN}", timeout=10)

    versions = bed.store.limits.versions(bed.sid)
    assert [(v.version, v.who) for v in versions] == [(1, "clinician-setup"), (2, CLINICIAN)]
    assert (bed.store.limits.current(bed.sid) or {})["vitals"]["sbp"]["high"] == 150
    changes = [(a.who, a.target, a.old, a.new) for a in bed.store.audit.entries(session_id=bed.sid)
               if a.action == "limits"]
    assert (CLINICIAN, "vitals.sbp.high", "179", "150") in changes
    assert not [a for a in bed.store.audit.entries() if a.action == "forbidden"]
    assert dash_duo.get_logs() == []


def test_a_nurse_forcing_apply_is_refused_by_the_server(dash_duo, bed: Bed) -> None:
    base = start(dash_duo, bed)
    sign_in(dash_duo, base, NURSE, "nurse")
    open_limits(dash_duo)

    # Get past what the screen allows: change a field from script, then click the hidden Apply button.
    field_id = {"type": "limit-field", "group": "sbp", "key": "high"}
    dash_duo.driver.execute_script(SET_PROPS, field_id, {"value": 150})
    dash_duo.driver.execute_script("document.getElementById('limits-apply').click();")
    wait_for(lambda: [a for a in bed.store.audit.entries() if a.action == "forbidden"], 10, "the refusal audited")

    # Checking the fields is open to any viewer (a new version fills a read-only tab's fields too); applying is not.
    refused = [(a.who, a.target, a.new) for a in bed.store.audit.entries() if a.action == "forbidden"]
    assert refused == [(NURSE, "apply", "needs limits")]
    assert [(v.version, v.who) for v in bed.store.limits.versions(bed.sid)] == [(1, "clinician-setup")]
    assert (bed.store.limits.current(bed.sid) or {})["vitals"]["sbp"]["high"] == 179
    # The browser saw the 403s (and Dash's renderer reported each failed callback), and nothing else. The
    # server audits before it answers, so the browser's log entry may come a moment after the audit row;
    # Chromium hands each entry out once, so they are gathered until the refusal is among them.
    logs: list[dict] = []
    wait_for(lambda: logs.extend(dash_duo.get_logs() or []) or [e for e in logs if e["source"] == "network"], 10,
             "the browser's log of the 403")
    refusals = [e for e in logs if e["source"] == "network"]
    assert refusals and all("the server responded with a status of 403 (FORBIDDEN)" in e["message"]
                            for e in refusals), logs
    assert all("/dash_renderer." in e["message"] for e in logs if e["source"] != "network"), logs


def test_admin_adds_a_user_and_reads_the_audit_trail_by_user(dash_duo, bed: Bed) -> None:
    """The users page adds a nurse who can then sign in; the audit page filters by user; a nurse may see
    neither page."""
    Accounts(bed.store).add("root-admin", "admin", PASSWORD, by="test")
    base = start(dash_duo, bed)
    sign_in(dash_duo, base, "root-admin", "admin")
    open_panel(dash_duo, "Limits")  # the tabs below the screen mount the open one only
    assert dash_duo.find_element(".needs-users").is_displayed() and not dash_duo.find_element(
        ".needs-limits").is_displayed()
    driver = dash_duo.driver
    driver.get(base + "/users/")
    dash_duo.wait_for_element("#user-add", timeout=10)
    for component, value in (("user-name", "nurse-cleo"), ("user-role", "nurse"),
                             ("user-password", "short"), ("user-password-again", "short")):
        driver.execute_script(SET_PROPS, component, {"value": value})
    dash_duo.find_element("#user-add").click()
    wait_for(lambda: "Not changed: a password needs at least 8" in text_of(dash_duo, "users-message"), 10,
             "the refusal of a short password")
    for component in ("user-password", "user-password-again"):
        driver.execute_script(SET_PROPS, component, {"value": "cleo's passphrase"})
    dash_duo.find_element("#user-add").click()
    wait_for(lambda: text_of(dash_duo, "users-message") == "Added nurse-cleo (nurse).", 10, "the user added")
    wait_for(lambda: "nurse-cleo" in dash_duo.find_element("#users-grid").text, 10, "the new user in the grid")
    assert Accounts(bed.store).sign_in("nurse-cleo", "cleo's passphrase").user.role == "nurse"
    driver.execute_script(SET_PROPS, "user-name", {"value": "root-admin"})  # an admin cannot lock herself out
    dash_duo.find_element("#user-disable").click()
    wait_for(lambda: "you cannot disable your own account" in text_of(dash_duo, "users-message"), 10,
             "the refusal to disable oneself")
    assert not [u for u in Accounts(bed.store).listing() if u.disabled]

    driver.get(base + "/audit/")
    dash_duo.wait_for_element("#audit-all", timeout=10)
    wait_for(lambda: "user_add" in dash_duo.find_element("#audit-all").text, 10, "the audit grid")
    driver.execute_script(SET_PROPS, "audit-user", {"value": "root-admin"})
    grid_who = "return [...document.querySelectorAll('#audit-all .ag-row [col-id=who]')].map(e => e.innerText);"
    wait_for(lambda: set(driver.execute_script(grid_who)) == {"root-admin"}, 10, "only the admin's entries")
    actions = "return [...document.querySelectorAll('#audit-all .ag-row [col-id=action]')].map(e => e.innerText);"
    assert {"sign_in", "user_add"} <= set(driver.execute_script(actions))
    assert dash_duo.get_logs() == []

    driver.delete_all_cookies()
    sign_in(dash_duo, base, "nurse-cleo", "nurse", "cleo's passphrase")
    for page in ("/audit/", "/users/"):
        driver.get(base + page)
        wait_for(lambda: "Forbidden" in driver.page_source, 10, f"{page} refused to a nurse")
        assert "A nurse may not" in driver.find_element(By.ID, "forbidden-reason").text
        assert driver.find_element(By.ID, "back-to-bed-view").get_attribute("href") == base + "/"


def test_disabling_a_signed_in_nurse_takes_her_screen_to_the_sign_in_page(dash_duo, bed: Bed) -> None:
    base = start(dash_duo, bed)
    sign_in(dash_duo, base, NURSE, "nurse")
    Accounts(bed.store).disable(NURSE, by="root-admin")
    wait_for(lambda: dash_duo.driver.current_url.startswith(base + "/login?next="), 15,
             "the open bed view ended by the server and the sign-in page shown")
    assert dash_duo.driver.find_element(By.ID, "password").is_displayed()


def test_an_action_after_the_sign_in_ended_leads_to_the_sign_in_page(dash_duo, bed: Bed) -> None:
    """A callback answered 401 (here: the cookies are gone) takes the browser to the sign-in page, not a
    button that silently does nothing; the open live view alone would not have noticed."""
    base = start(dash_duo, bed)
    sign_in(dash_duo, base, NURSE, "nurse")
    dash_duo.driver.delete_all_cookies()
    dash_duo.find_element("#ack-button").click()
    wait_for(lambda: dash_duo.driver.current_url == base + "/login?next=%2F", 10, "the sign-in page")
    assert not [a for a in bed.store.audit.entries(session_id=bed.sid) if a.action == "acknowledge"]


SHAPES = "return document.querySelector('#trend .js-plotly-plot').layout.shapes.map(s => [s.name, s.y0]);"


def test_a_limits_change_reaches_another_viewers_limits_tab_and_trend_within_2_s(dash_duo, bed: Bed) -> None:
    """A clinician applies version 2; the nurse's open Limits tab (version label, every field) and her trend bands
    follow within 2 s of the store having it, with no reload."""
    base = start(dash_duo, bed)
    sign_in(dash_duo, base, CLINICIAN, "clinician")
    with second_browser() as nurse:
        sign_in(nurse, base, NURSE, "nurse")
        open_limits(nurse)
        version_1 = "In force: version 1 (from preset iv-ketamine), set by clinician-setup"
        assert text_of(nurse, "limits-version") == version_1
        assert field(nurse, "sbp", "high").get_attribute("value") == "179"
        assert ["sbp-high", 179] in nurse.driver.execute_script(SHAPES)

        open_limits(dash_duo)
        type_into(field(dash_duo, "sbp", "high"), "150")
        type_into(field(dash_duo, "hr", "low"), "")  # cleared: no HR low limit
        wait_for(lambda: dash_duo.find_element("#limits-apply").is_enabled(), 5, "Apply to be enabled")
        dash_duo.find_element("#limits-apply").click()
        wait_for(lambda: bed.store.limits.version(bed.sid) == 2, 10, "version 2 in the store", interval=0.02)

        label = f"In force: version 2 (from preset iv-ketamine), set by {CLINICIAN}"
        wait_for(lambda: (text_of(nurse, "limits-version") == label
                          and field(nurse, "sbp", "high").get_attribute("value") == "150"
                          and field(nurse, "hr", "low").get_attribute("value") == ""
                          and ["sbp-high", 150] in nurse.driver.execute_script(SHAPES)),
                 2, "the nurse's Limits tab and trend to show version 2", interval=0.05)
        assert field(nurse, "sbp", "critical_high").get_attribute("value") == "219"  # unchanged fields stay
        assert text_of(nurse, "limits-notice") == ""  # she was not editing: nothing of hers was replaced
        assert nurse.driver.get_log("browser") == []
    assert not [a for a in bed.store.audit.entries() if a.action == "forbidden"]
    assert dash_duo.get_logs() == []
