"""The central view in headless Chromium: a site of real serial beds (HL7 monitors played over real ptys, one port
missing) run in-process as `vigil serve` runs it; an alarm reaching the banner and its bed's tile, its
acknowledgement on the bed's own view, an unplugged bed; and the tiles' fit on the screens the issue names."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_support import second_browser, set_viewport, text_of
from selenium.webdriver.common.by import By
from support import NO_SIGN_IN, Pty, wait_for
from werkzeug.serving import make_server

from adapters.model.reading import Reading
from adapters.protocols.hl7_mllp.message import encode_oru
from monitor.runtime.site import Site
from monitor.site.config import load_site
from monitor.store import Store
from monitor.web import urls
from monitor.web.app import DashboardConfig, create_site_app
from monitor.web.bed import ids
from monitor.web.site.page import BANNER, tile_id

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


@contextmanager
def served(app) -> Iterator[str]:
    """`app` (a site's Flask server) on a free loopback port, as `vigil serve` serves it; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def tile_class(dash_duo, bed: str, part: str = "") -> str:
    script = "const t = document.getElementById(arguments[0]); const e = t && (arguments[1] ? " \
             "t.querySelector(arguments[1]) : t); return e ? e.className : '';"
    return dash_duo.driver.execute_script(script, tile_id(bed), part)


# Runs in every page before its own scripts: keeps the path of every event stream the page opens.
STREAM_RECORDER = """
window.vigilStreams = [];
window.EventSource = class extends window.EventSource {
  constructor(url, options) { super(url, options); window.vigilStreams.push(new URL(url, location.href).pathname); }
};
"""


def record_streams(dash_duo) -> None:
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STREAM_RECORDER})


def streams_opened(dash_duo) -> list[str]:
    """The paths of the event streams the page has opened."""
    return sorted(set(dash_duo.driver.execute_script("return window.vigilStreams || [];")))


def tile_text(dash_duo, bed: str) -> str:
    return text_of(dash_duo, tile_id(bed))


class Monitor:
    """An HL7 monitor on a pty: HR and SpO2 every second, as a real one sends them (a silent line is a lost link
    after the watchdog's 10 s), and an NIBP result when the test says; until unplugged."""

    def __init__(self, pty: Pty) -> None:
        self.pty, self.sent, self.lock, self.stopped = pty, 0, threading.Lock(), threading.Event()
        threading.Thread(target=self._every_second, daemon=True).start()

    def send(self, **values: float) -> None:
        with self.lock:  # one frame at a time on the line
            if not self.pty.open:
                return
            self.sent += 1
            now = datetime.now(UTC)
            frame = encode_oru([Reading(now, vital, float(v)) for vital, v in values.items()],
                               control_id=str(self.sent))
            self.pty.send(frame)

    def unplug(self) -> None:
        with self.lock:
            self.pty.hang_up()

    def _every_second(self) -> None:
        while not self.stopped.wait(1.0) and self.pty.open:
            self.send(hr=72, spo2=98)


SITE = """\
name = "Riverside clinic"
{beds}
[[beds]]
id = "chair-4"
label = "Chair 4"
port = "{missing}"
protocol = "hl7-mllp"
"""
BED = '[[beds]]\nid = "chair-{n}"\nlabel = "Chair {n}"\nport = "{port}"\nprotocol = "hl7-mllp"\ntype = "iv-ketamine"\n'


@pytest.fixture
def clinic(tmp_path: Path, pty: Callable[[], Pty]) -> Iterator[tuple[str, list[Monitor]]]:
    """Four chairs served as `vigil serve` serves them: three HL7 monitors on ptys, chair 4's port missing."""
    ptys = [pty() for _ in range(3)]
    path = tmp_path / "site.toml"
    path.write_text(SITE.format(beds="".join(BED.format(n=i + 1, port=p.path) for i, p in enumerate(ptys)),
                                missing=tmp_path / "no-such-tty"))
    config = load_site(path)
    store = Store(tmp_path / "vigil.db")
    site = Site(store, config, "operator")
    views = [(bed.config.id, bed.config.label, DashboardConfig(store, bed.session, auth=NO_SIGN_IN))
             for bed in site.beds]
    site.start()
    monitors = [Monitor(p) for p in ptys]
    try:
        with served(create_site_app(store, views, UTC, NO_SIGN_IN, "operator", config.name)) as base:
            yield base, monitors
    finally:
        for monitor in monitors:
            monitor.stopped.set()
        site.stop()
        store.close()


def test_an_alarm_on_bed_3_reaches_the_banner_and_its_tile_and_its_acknowledgement_steadies_the_tile(
        dash_duo, clinic) -> None:
    base, monitors = clinic
    for monitor in monitors:
        monitor.send(sbp=128, dbp=82, hr=72, spo2=98)
    record_streams(dash_duo)
    dash_duo.driver.get(base + urls.SITE)
    wait_for(lambda: text_of(dash_duo, ids.LINK_STATUS) == "Live", 10, "the site stream")
    wait_for(lambda: "128/82" in tile_text(dash_duo, "chair-3"), 10, "chair 3's first NIBP on its tile")
    assert "No active alarms" in text_of(dash_duo, BANNER)
    # The bed view's own script is not on this page, and it opened one stream, the site's, and no bed's.
    assert dash_duo.driver.execute_script("return (window.dash_clientside || {}).vigil === undefined")
    assert streams_opened(dash_duo) == [urls.SITE_STREAM]
    # Chair 4's port does not exist: its tile says so, unmistakably.
    wait_for(lambda: "OFFLINE" in tile_text(dash_duo, "chair-4"), 5, "chair 4 offline")
    assert "offline" in tile_class(dash_duo, "chair-4").split()

    monitors[2].send(sbp=240, dbp=125, hr=75, spo2=97)  # SBP above the critical limit: a high-priority alarm
    wait_for(lambda: "Chair 3" in text_of(dash_duo, BANNER) and "SYS" in text_of(dash_duo, BANNER), 2,
             "chair 3's alarm in the central banner")
    wait_for(lambda: "alarm-high" in tile_class(dash_duo, "chair-3", ".sv-bp"), 2, "chair 3's NIBP in alarm")
    assert "acked" not in tile_class(dash_duo, "chair-3", ".sv-bp").split()  # flashing
    assert "alarm-high" not in tile_class(dash_duo, "chair-1", ".sv-bp")  # only chair 3's

    with second_browser() as bedside:  # the nurse acknowledges at chair 3's own view
        record_streams(bedside)
        bedside.driver.get(base + urls.site_bed("chair-3"))
        wait_for(lambda: text_of(bedside, ids.LINK_STATUS) == "Live", 10, "chair 3's view")
        wait_for(lambda: "SYS" in text_of(bedside, ids.ALARM_BANNER), 5, "the alarm on chair 3's view")
        assert streams_opened(bedside) == [urls.STREAM]  # the central view's script does nothing on a bed's view
        bedside.driver.find_element(By.ID, ids.ACK_BUTTON).click()
        wait_for(lambda: "acked" in tile_class(dash_duo, "chair-3", ".sv-bp").split(), 2,
                 "chair 3's tile steady (acknowledged) on the central view")

    monitors[1].unplug()  # chair 2's monitor unplugged
    wait_for(lambda: "OFFLINE" in tile_text(dash_duo, "chair-2"), 15, "chair 2 offline after its unplugging")
    assert "OFFLINE" not in tile_text(dash_duo, "chair-1")


def small_site(store: Store, beds: int) -> list[tuple[str, str, DashboardConfig]]:
    """`beds` chairs with a few minutes of NIBP, HR and SpO2 each (stored as acquisition stores them)."""
    views = []
    for n in range(1, beds + 1):
        sid = store.sessions.create(f"chair {n}", "live", bed=f"Chair {n}")
        for s in range(0, 300, 5):
            t = T0 + timedelta(seconds=s)
            store.samples.write(sid, [Reading(t, "hr", 70 + s % 7), Reading(t, "spo2", 97)]
                                + ([Reading(t, "sbp", 120 + n), Reading(t, "dbp", 80)] if s % 150 == 0 else []))
        views.append((f"chair-{n}", f"Chair {n}", DashboardConfig(store, lambda sid=sid: sid, auth=NO_SIGN_IN)))
    return views


TILE_BOXES = """
const inside = (b, o) => b.left >= o.left - 0.5 && b.right <= o.right + 0.5
  && b.top >= o.top - 0.5 && b.bottom <= o.bottom + 0.5;
const view = {left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight};
return Array.from(document.querySelectorAll('.site-tile')).map((tile) => {
  const box = tile.getBoundingClientRect();
  const parts = Array.from(tile.querySelectorAll('.sv-value, .st-label, .st-trend'))
    .filter((e) => !inside(e.getBoundingClientRect(), box));
  return [tile.id, inside(box, view), parts.map((e) => e.className), Math.round(box.height)];
});
"""


@pytest.mark.parametrize(("beds", "width", "height"), [(8, 1920, 1080), (4, 1366, 625), (16, 1920, 1080)])
def test_every_tile_lies_on_the_screen(dash_duo, tmp_path: Path, beds: int, width: int, height: int) -> None:
    """8 beds on a 1920×1080 screen, 4 on 1366×768 (its viewport 1366×625 under the browser's chrome), and 16 on
    1920×1080 still: every tile, and its numbers and trend, in the viewport without scrolling — with a notice for
    the admin shown below them."""
    store = Store(tmp_path / "vigil.db")
    notice = "HL7 sender no bed claims (10.0.0.7:50112): MSH-3 <b>MINDRAY</b>"
    try:
        with served(create_site_app(store, small_site(store, beds), UTC, NO_SIGN_IN, "operator", "Clinic",
                                    lambda: [notice])) as base:
            set_viewport(dash_duo, width, height)
            dash_duo.driver.get(base + urls.SITE)
            wait_for(lambda: f"{120 + beds}/80" in tile_text(dash_duo, f"chair-{beds}"), 10, "the tiles filled")
            dash_duo.wait_for_text_to_equal("#site-notices", notice, timeout=10)  # as text, never markup
            assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#site-notices b") == []
            boxes = dash_duo.driver.execute_script(TILE_BOXES)
            assert len(boxes) == beds
            assert [(tile, on_screen, cut) for tile, on_screen, cut, _ in boxes if not on_screen or cut] == []
            assert min(height for *_, height in boxes) >= 150  # still a readable tile
    finally:
        store.close()
