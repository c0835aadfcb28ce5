"""Helpers the browser tests share: reading text in the page and typing into the limits editor."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def text_of(dash_duo, element_id: str) -> str:
    """The element's text, read in the page (an element React re-renders meanwhile is never stale here)."""
    script = "const e = document.getElementById(arguments[0]); return e ? e.innerText : '';"
    return dash_duo.driver.execute_script(script, element_id)


def field(dash_duo, group: str, key: str):
    """A limits-editor input, found by its pattern-matching id (Dash renders it as sorted JSON)."""
    element_id = json.dumps({"group": group, "key": key, "type": "limit-field"}, separators=(",", ":"))
    return dash_duo.driver.find_element(By.XPATH, f"//input[@id='{element_id}']")


def type_into(element, text: str) -> None:
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE)
    element.send_keys(text)
