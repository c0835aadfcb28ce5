"""The central view's stream (`urls.SITE_STREAM`) over real HTTP against a real site server: a snapshot per bed,
then per-bed deltas of what is new, a resume per bed from the browser's tokens, and the sign-in guard."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from support import NO_SIGN_IN
from werkzeug.serving import make_server

from adapters.model.reading import LINK_LOST, Event, Reading
from adapters.protocols.hl7_mllp.received import SenderIds
from monitor.alarms.live import LiveAlarms
from monitor.auth.accounts import Accounts
from monitor.limits.model import load_preset
from monitor.runtime.hl7 import UnknownSender, unknown_sender_notice
from monitor.store import Store
from monitor.web import urls
from monitor.web.app import DashboardConfig, create_site_app
from monitor.web.auth import AuthSettings
from monitor.web.site.stream import SiteBed, stream_site

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
BEDS = ("chair-1", "chair-2")
PASSWORD = "correct horse battery"


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)  # the display zone is UTC here


@dataclass
class Site:
    store: Store
    url: str
    sessions: dict[str, int]  # each bed's session now: a test moves a bed on by changing it


def serve(tmp_path: Path, auth: AuthSettings) -> Iterator[Site]:
    store = Store(tmp_path / "vigil.db")
    sessions = {}
    for bed in BEDS:
        sessions[bed] = store.sessions.create(bed, "live", bed=bed)
        store.limits.save(sessions[bed], load_preset("iv-ketamine").to_dict(), T0, "test")
    views = [(bed, bed.upper(), DashboardConfig(store, lambda bed=bed: sessions[bed], auth=auth)) for bed in BEDS]
    server = make_server("127.0.0.1", 0, create_site_app(store, views, UTC, auth, "operator", "Test clinic"),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Site(store, f"http://127.0.0.1:{server.server_port}", sessions)
    server.shutdown()
    store.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from serve(tmp_path, NO_SIGN_IN)


class Stream:
    """The site stream as a browser's EventSource reads it: one JSON object per message."""

    def __init__(self, url: str, tokens: list[str] = (), http: requests.Session | None = None) -> None:
        self.response = (http or requests.Session()).get(url + urls.SITE_STREAM, params={"b": list(tokens)},
                                                         stream=True, timeout=10)
        self.lines = self.response.iter_lines()

    def next(self) -> tuple[dict, int]:
        """The next message, and the bytes of its data line."""
        for line in self.lines:
            if line.startswith(b"data: "):
                return json.loads(line[6:]), len(line)
        raise AssertionError("the stream ended")

    def updates_until(self, done) -> list[dict]:
        got: list[dict] = []
        while not done(got):
            got += self.next()[0].get("u", [])
        return got

    def close(self) -> None:
        self.response.close()


def token(update: dict, session: int, epoch: int = 0) -> str:
    """The resume token the browser keeps for a bed (assets/vigil_site.js)."""
    return ".".join([update["b"], str(session), str(epoch), "-".join(map(str, update["c"]))])


def test_each_bed_starts_with_a_snapshot_then_gets_only_what_is_new_for_it(site: Site) -> None:
    one, two = site.sessions["chair-1"], site.sessions["chair-2"]
    site.store.samples.write(one, [Reading(T0, "sbp", 128), Reading(T0, "dbp", 82), Reading(T0, "hr", 70)])
    stream = Stream(site.url)
    first, _ = stream.next()
    snapshots = {u["b"]: u for u in first["u"]}
    assert set(snapshots) == set(BEDS) and all(u["full"] == 1 for u in first["u"])
    assert snapshots["chair-1"]["v"] == {"sbp": [ms(T0), 128], "dbp": [ms(T0), 82], "hr": [ms(T0), 70]}
    assert snapshots["chair-1"]["t"] == {"sbp": [[ms(T0), 128]], "hr": [[ms(T0), 70]]}
    assert snapshots["chair-2"]["v"] == {} and snapshots["chair-2"]["l"] is None
    assert snapshots["chair-1"]["T"]["typeLabel"]

    t = T0 + timedelta(seconds=1)
    site.store.samples.write(two, [Reading(t, "hr", 91), Reading(t, "pr", 90)])
    update = stream.updates_until(lambda got: got)
    cursor = site.store.samples.cursor(two)
    # Only bed 2, only the reading its tile shows (PR is not on a tile), and where that leaves the viewer.
    assert update == [{"b": "chair-2", "r": [[ms(t), "hr", 91]], "c": [cursor.reading, cursor.event, cursor.alarm]}]
    assert len(json.dumps(update[0], separators=(",", ":"))) <= 200
    stream.close()


def test_a_reconnect_resumes_each_bed_from_its_token_missing_and_doubling_nothing(site: Site) -> None:
    one, two = site.sessions["chair-1"], site.sessions["chair-2"]
    stream = Stream(site.url)
    stream.next()
    site.store.samples.write(one, [Reading(T0, "hr", 70)])
    got = stream.updates_until(lambda got: got)
    tokens = [token(got[0], one)]
    stream.close()

    site.store.samples.write(one, [Reading(T0 + timedelta(seconds=s), "hr", 70 + s) for s in (1, 2)])
    resumed = Stream(site.url, tokens)  # chair-2 has no token: it starts with a snapshot
    updates = {u["b"]: u for u in resumed.updates_until(lambda got: len(got) >= 2)}
    assert updates["chair-1"]["r"] == [[ms(T0 + timedelta(seconds=s)), "hr", 70 + s] for s in (1, 2)]
    assert "full" not in updates["chair-1"] and updates["chair-2"]["full"] == 1
    resumed.close()

    # A bed that has moved on to its next session since the token: a snapshot of the new one, not a delta.
    site.sessions["chair-1"] = site.store.sessions.create("next", "live", bed="chair-1")
    moved = Stream(site.url, [token(updates["chair-1"], one), token(updates["chair-2"], two)])
    first = {u["b"]: u for u in moved.next()[0]["u"]}
    assert (first["chair-1"]["full"], first["chair-1"]["s"]) == (1, site.sessions["chair-1"])
    # chair-2 resumes: no snapshot, nothing it had again; only its clock and session facts, as after any reconnect.
    assert set(first["chair-2"]) <= {"b", "c", "k", "T"}
    moved.close()


def test_alarms_name_their_bed_and_an_unplugged_monitor_shows_as_a_lost_link(site: Site) -> None:
    two = site.sessions["chair-2"]
    stream = Stream(site.url)
    stream.next()
    alarms = LiveAlarms(site.store, two)
    batch = [Reading(T0, "sbp", 240), Reading(T0, "dbp", 120)]
    site.store.samples.write(two, batch)
    alarms.process(batch, [])
    got = stream.updates_until(lambda got: any("a" in u for u in got))
    alarm = next(a for u in got for a in u.get("a", []))
    assert alarm["bed"] == "chair-2" and alarm["pri"] == "high" and alarm["vital"] == "sbp"
    assert alarm["tiles"] == ["chair-2", "chair-2/bp"]  # the tile and its NIBP numeric, apart from other beds'

    lost = Event(T0 + timedelta(seconds=5), LINK_LOST, "cannot open /dev/ttyUSB9: no such device", source="ge-s5")
    site.store.samples.write(two, [], [lost])
    got = stream.updates_until(lambda got: any("l" in u for u in got))
    assert next(u["l"] for u in got if "l" in u) == [1, "cannot open /dev/ttyUSB9: no such device"]
    stream.close()


def test_the_site_stream_is_for_signed_in_users_only(tmp_path: Path) -> None:
    for site in serve(tmp_path, AuthSettings()):
        Accounts(site.store).add("nurse-ana", "nurse", PASSWORD, by="test")
        anonymous = requests.get(site.url + urls.SITE_STREAM, headers={"Accept": "text/event-stream"}, stream=True,
                                 timeout=10)
        assert anonymous.status_code == 401
        page = requests.get(site.url + urls.SITE, timeout=10)
        assert page.url == site.url + urls.sign_in_then(urls.SITE)  # the central view itself: sign in first
        nurse = requests.Session()
        form = nurse.get(site.url + urls.SIGN_IN, timeout=10).text
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
        nurse.post(site.url + urls.SIGN_IN, data={"name": "nurse-ana", "password": PASSWORD, "_csrf_token": csrf},
                   timeout=30)
        stream = Stream(site.url, http=nurse)
        assert stream.response.status_code == 200
        assert {u["b"] for u in stream.next()[0]["u"]} == set(BEDS)
        stream.close()


def test_the_admin_sees_each_hl7_sender_no_bed_claims(tmp_path: Path) -> None:
    """The site's notices ride the stream whole, on connecting and whenever they change; a bed's update never
    waits for them."""
    store = Store(tmp_path / "vigil.db")
    session = store.sessions.create("chair-1", "live", bed="chair-1")
    notices: list[str] = []
    stream = stream_site(store, [SiteBed("chair-1", "Chair 1", lambda: session)], {}, UTC,
                         notices=lambda: list(notices))
    try:
        assert next(stream).startswith("retry:")
        first = json.loads(next(stream).removeprefix("data: "))
        assert first["n"] == [] and first["u"][0]["b"] == "chair-1"
        stranger = UnknownSender(SenderIds(application="MINDRAY-0012A4B5", location="ICU^3"), "10.0.0.7:50112",
                                 T0, T0 + timedelta(minutes=2), 3)
        notices.append(unknown_sender_notice(stranger))
        told = json.loads(next(m for m in stream if m.startswith("data: ")).removeprefix("data: "))
        assert "u" not in told and told["n"] == [
            "HL7 sender no bed claims (10.0.0.7:50112): PV1-3 ICU^3, MSH-3 MINDRAY-0012A4B5 — 3 messages rejected, "
            f"last at {(T0 + timedelta(minutes=2)).astimezone().strftime('%H:%M:%S')}; "
            "give its bed this hl7_id in site.toml"]
    finally:
        stream.close()
        store.close()
