"""The two-host flow on one machine: a chair computer (`vigil acquire --config site.toml --bed chair-1`, fed by an
emulated GE S/5 over a pty) and a central server (`vigil serve --config site.toml --no-acquire`), two processes on
one PostgreSQL database, with the central view in headless Chromium."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import requests
from browser_support import text_of
from support import T0, Processes, json_strings, simulate, start_chair, wait_for

from monitor.store import Store, StoredAlarm
from monitor.web import urls
from monitor.web.bed import ids
from monitor.web.site.page import BANNER, tile_id

SITE = """\
name = "Riverside clinic"
db = "{db}"

[[beds]]
id = "chair-1"
label = "Chair 1"
port = "{port}"
protocol = "ge-s5"
type = "iv-ketamine"
"""


def tachycardia(path: Path) -> Path:
    """Ten minutes of HR 115-121 (above the iv-ketamine preset's 110, below its 130), a new value every second:
    the chair's alarm engine writes the HR alarm's episode again with each reading."""
    rows = ["time,sbp,dbp,map,hr,spo2,pr,rr,event"]
    for s in range(600):
        t = (T0 + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
        rows.append(f"{t},,,,{115 + s % 7},97,{115 + s % 7},14,")
    path.write_text("\n".join(rows) + "\n")
    return path


def tile(dash_duo) -> str:
    return text_of(dash_duo, tile_id("chair-1"))


def hr_alarm(store: Store, session_id: int) -> StoredAlarm | None:
    return next((a for a in store.alarms.since(session_id) if a.episode.vital == "hr" and a.episode.end is None), None)


def test_a_chair_computer_and_a_central_server_share_one_postgresql(
    dash_duo, postgresql_db: str, tmp_path: Path, processes: Processes
) -> None:
    site, link = tmp_path / "site.toml", tmp_path / "monitor-1"
    site.write_text(SITE.format(db=postgresql_db, port=link))
    central = processes.start("serve", "--config", site, "--no-acquire", "--http-port", "0", "--no-auth",
                               "--operator", "central-nurse")
    assert central.stdout is not None
    assert central.stdout.readline() == "serving the views of 1 bed that chair computers acquire (--no-acquire)\n"
    base = central.stdout.readline().split()[2].rstrip("/")
    # Before the chair computer starts: the bed is offline on the central view, and its own view says why.
    layout = requests.get(base + urls.site_bed("chair-1") + "_dash-layout", timeout=10).text
    assert any("No session on this bed yet" in s for s in json_strings(layout))
    dash_duo.driver.get(base + urls.SITE)
    wait_for(lambda: "no chair computer has acquired this bed" in tile(dash_duo), 10, "the bed offline, never held")

    simulate(processes, "ge-s5", tachycardia(tmp_path / "tachycardia.csv"), link, speed=1)
    first_chair = start_chair(processes, site)
    store = Store(postgresql_db)
    try:
        session_id = wait_for(lambda: store.beds.open_session("chair-1"), 10, "the chair's session")
        # A reading the chair acquired, on the central view.
        wait_for(lambda: re.search(r"HR\s*11[5-9]|HR\s*12[01]", tile(dash_duo)) and "OFFLINE" not in tile(dash_duo),
                 20, "the chair's HR on its tile, live")
        alarm = wait_for(lambda: hr_alarm(store, session_id), 30, "the chair's HR alarm")
        wait_for(lambda: "HR" in text_of(dash_duo, BANNER) and "Chair 1" in text_of(dash_duo, BANNER),
                 10, "the HR alarm on the central banner")

        # Acknowledged on the central server's view of the bed: its own button, its own callback.
        dash_duo.driver.get(base + urls.site_bed("chair-1"))
        wait_for(lambda: "HR" in text_of(dash_duo, ids.ALARM_BANNER), 15, "the HR alarm on the bed's view")
        dash_duo.find_element(f"#{ids.ACK_BUTTON}").click()
        acked = wait_for(lambda: next((a for a in store.alarms.since(session_id) if a.id == alarm.id and a.acked_at),
                                      None), 10, "the acknowledgement stored")
        assert acked.acked_by == "central-nurse"
        # The chair's alarm engine goes on writing that episode (its latest HR) and keeps the acknowledgement.
        later = wait_for(lambda: next((a for a in store.alarms.since(session_id, acked.rev) if a.id == alarm.id),
                                      None), 15, "the chair's next write of the acknowledged episode")
        assert later.episode.value != acked.episode.value or later.episode.peak != acked.episode.peak
        assert (later.acked_at, later.acked_by) == (acked.acked_at, "central-nurse")

        # The chair computer dies: the central view says since when it was not heard from.
        dash_duo.driver.get(base + urls.SITE)
        wait_for(lambda: "Live" in tile(dash_duo), 10, "the tile live again")
        killed = next(p for p in processes.running if p.pid == first_chair)
        killed.kill()
        killed.communicate()
        wait_for(lambda: re.search(r"chair computer \S+ not heard from since \d\d:\d\d:\d\d", tile(dash_duo)), 30,
                 "the bed offline on the central view, its chair computer not heard from")
        assert "OFFLINE" in tile(dash_duo)
        # Started again, it takes its bed back at once, continues the session, and the acknowledgement stands.
        start_chair(processes, site)
        wait_for(lambda: "OFFLINE" not in tile(dash_duo), 15, "the bed live again")
        assert store.beds.open_session("chair-1") == session_id
        resumed = wait_for(lambda: next((a for a in store.alarms.since(session_id, later.rev) if a.id == alarm.id),
                                        None), 15, "the restarted chair's write of the episode")
        assert (resumed.acked_at, resumed.acked_by) == (acked.acked_at, "central-nurse")
    finally:
        store.close()
    _, err = processes.stop(central)
    assert central.returncode == 0 and "Traceback" not in err, err

