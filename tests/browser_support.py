"""Helpers the browser tests share: a live session fed by hand, the window's size, reading text in the page,
signing in, the bed view's tabs, typing into the limits editor, the console's warnings, and a second browser for a
second user."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import pytest_setup_options
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from support import wait_for

from adapters.model.reading import Event, Reading
from monitor.alarms.live import LiveAlarms
from monitor.store import Store

PASSWORD = "correct horse battery"  # the test users' password
T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


class LiveSession:
    """A live-style session the test feeds by hand, exactly as the acquisition runner does: commit, then alarm."""

    def __init__(self, db: Path, limits: dict) -> None:
        self.store = Store(db)
        self.sid = self.store.sessions.create("alarm test", "live")
        self.store.limits.save(self.sid, limits, T0, "clinician-setup")
        self.alarms = LiveAlarms(self.store, self.sid, expect_dose=True)

    def feed(self, seconds: float, readings: list[tuple[str, float]], events: tuple[Event, ...] = ()) -> None:
        t = T0 + timedelta(seconds=seconds)
        batch = [Reading(t, vital, value) for vital, value in readings]
        self.store.samples.write(self.sid, batch, list(events))
        self.alarms.process(batch, list(events))
        self.store.sessions.set_clock(self.sid, t, datetime.now(UTC), 0.0)  # the session clock stands at the data


def set_viewport(dash_duo, width: int, height: int) -> None:
    """Size the window so that the page's viewport is `width` × `height` CSS pixels, as on a screen whose
    browser chrome (tabs, address bar, task bar) takes the rest."""
    driver = dash_duo.driver
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])


def text_of(dash_duo, element_id: str) -> str:
    """The element's text, read in the page (an element React re-renders meanwhile is never stale here)."""
    script = "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';"
    return dash_duo.driver.execute_script(script, element_id)


def sign_in(dash_duo, base: str, name: str, role: str, password: str = PASSWORD) -> None:
    """Open `/`, be sent to the sign-in page, sign in there and land on the bed view as `name`. `dash_duo` may be
    a second browser (`second_browser`)."""
    driver = dash_duo.driver
    driver.get(base + "/")
    wait_for(lambda: driver.current_url == base + "/login?next=/", 10, "the redirect to the sign-in page")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(lambda: text_of(dash_duo, "signed-in-as") == f"{name} ({role})", 15, f"the bed view for {name}")
    assert driver.current_url == base + "/"
    wait_for(lambda: text_of(dash_duo, "link-status") == "Live", 10, f"{name}'s stream to connect")


def open_panel(dash_duo, label: str) -> None:
    """Click the bed view's tab named `label` (Session, Alarm history, Limits, Audit trail)."""
    dash_duo.driver.find_element(By.XPATH, f"//button[@role='tab'][contains(., '{label}')]").click()


def field(dash_duo, group: str, key: str):
    """A limits-editor input, found by its pattern-matching id (Dash renders it as sorted JSON)."""
    element_id = json.dumps({"group": group, "key": key, "type": "limit-field"}, separators=(",", ":"))
    return dash_duo.driver.find_element(By.XPATH, f"//input[@id='{element_id}']")


def type_into(element, text: str) -> None:
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE)
    element.send_keys(text)


# dash_duo.get_logs() returns only SEVERE entries (dash.testing asks Chromium for no others); warnings,
# such as AG Grid's, are kept by this script, which runs in every page before the page's own scripts.
CONSOLE_RECORDER = """
window.vigilConsole = [];
for (const level of ["warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    window.vigilConsole.push(level + ": " + args.map(String).join(" "));
    original(...args);
  };
}
"""


def record_console(dash_duo) -> None:
    """From the next page load on, keep every console warning and error of the page (`console_messages`)."""
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CONSOLE_RECORDER})


def console_messages(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script("return window.vigilConsole || [];")


@dataclass
class OtherBrowser:
    """A second browser, usable wherever these helpers take `dash_duo` (they use only its `.driver`)."""

    driver: webdriver.Chrome


@contextmanager
def second_browser() -> Iterator[OtherBrowser]:
    """Another headless Chromium made as dash_duo makes its own (conftest's options, SEVERE console entries kept),
    for a second user watching at the same time; quit after."""
    options = pytest_setup_options()
    options.add_argument("--remote-debugging-port=0")
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(options=options)
    try:
        yield OtherBrowser(driver)
    finally:
        driver.quit()


# The text labels on a trend (event marks, notes), whether any is a link, and the largest label's font size.
TREND_TEXT = """
const plot = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!plot) return null;
const texts = Array.from(plot.querySelectorAll('.textpoint text, .textpoint tspan'));
return {
  labels: Array.from(plot.querySelectorAll('.textpoint text')).map(t => t.textContent).filter(t => t),
  links: plot.querySelectorAll('svg a').length,
  largest: Math.max(0, ...texts.map(t => parseFloat(getComputedStyle(t).fontSize))),
};
"""
