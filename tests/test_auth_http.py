"""Sign-in and roles over real HTTP against a real `vigil dashboard` process (not Flask's test client).

The requests here are what a script on the ward network could send: anonymous ones, a nurse forging the
limits callback the screen does not offer her, a request without the CSRF header. Each is checked against
the store, not only the status code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import ENGINES, new_database
from support import ROOT, free_port, json_strings, outputs_of

from adapters.files.replay import ReplaySource
from adapters.model.reading import Reading
from monitor.auth.accounts import Accounts
from monitor.limits.model import limits_from_stored, load_preset
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web.auth import json_fits
from monitor.web.bed.limits_editor import field_values
from monitor.web.urls import SIGN_OUT

T0 = datetime(2026, 11, 21, 9, tzinfo=UTC)
PASSWORD = "correct horse battery"
PATIENT = "MRN-7788"
USERS = {"nurse-ana": "nurse", "dr-ben": "clinician", "tess": "tester", "root-admin": "admin"}


def add_user(db: str | Path, name: str, role: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    """`vigil user add`, the password on standard input (not a terminal: one line)."""
    return subprocess.run([sys.executable, "-m", "monitor.cli", "user", "add", name, "--role", role, "--db", str(db)],
                          cwd=ROOT, input=password + "\n", capture_output=True, text=True, timeout=60)


@dataclass
class Server:
    url: str
    db: str
    sid: int
    process: subprocess.Popen[str]

    def stderr(self) -> str:
        """What the server has logged so far (read after it stops)."""
        return self.process.stderr.read() if self.process.stderr else ""


def start_dashboard(db: str | Path, sid: int, *extra: str) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "dashboard", "--db", str(db), "--session", str(sid), "--port",
         str(port), *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/login", timeout=10)
            return url, process
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or slow to answer on a loaded machine
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.2)


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A dashboard with sign-in, in its own process, on each engine (sign-ins are stored in the database)."""
    with new_database(request, request.param, tmp_path_factory.mktemp("auth")) as db:
        yield from serve(db)


def serve(db: str) -> Iterator[Server]:
    store = Store(db)
    sid = store.sessions.create("auth test", "live", session_type="iv-ketamine", patient_label=PATIENT)
    store.limits.save(sid, load_preset("iv-ketamine").to_dict(), T0, "setup")
    store.samples.write(sid, [Reading(T0 + timedelta(seconds=s), "hr", 70 + s % 5) for s in range(0, 120, 5)])
    for name, role in USERS.items():  # in process: a `vigil user add` each took seconds (test_auth_cli tests it)
        Accounts(store).add(name, role, PASSWORD, by="setup")
    store.close()
    url, process = start_dashboard(db, sid)
    yield Server(url, db, sid, process)
    process.terminate()
    process.wait(10)


class Client:
    """A scripted browser: a cookie jar, and the CSRF header Dash's renderer sends."""

    def __init__(self, url: str) -> None:
        self.url, self.http = url, requests.Session()

    def sign_in(self, name: str, password: str = PASSWORD) -> requests.Response:
        page = self.http.get(self.url + "/login", timeout=10)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
        return self.http.post(self.url + "/login", data={"name": name, "password": password, "_csrf_token": token,
                                                        "next": "/"}, allow_redirects=False, timeout=30)

    def callback(self, body: dict, csrf: bool = True) -> requests.Response:
        headers = {"X-CSRFToken": self.http.cookies.get("_csrf_token", "")} if csrf else {}
        return self.http.post(self.url + "/_dash-update-component", json=body, headers=headers, timeout=30)

    def dependencies(self, page: str = "/") -> list[dict]:
        return self.http.get(self.url + page + "_dash-dependencies", timeout=10).json()


def signed_in(server: Server, name: str) -> Client:
    client = Client(server.url)
    response = client.sign_in(name)
    assert response.status_code == 302 and response.headers["Location"] == "/", response.text
    return client


def shown(sid: object) -> dict:
    """The state every bed-view action sends: the session its page shows."""
    return {"id": "shown-session", "property": "data", "value": sid}


def limits_request(client: Client, store: Store, sid: int, sbp_high: float) -> dict:
    """The request the Apply button sends, built by hand: every field as stored, SBP high changed."""
    dep = next(d for d in client.dependencies() if any(i["id"] == "limits-apply" for i in d["inputs"]))
    values = field_values(limits_from_stored(store.limits.current(sid)))
    values["sbp.high"] = sbp_high
    ids = [{"type": "limit-field", "group": key.split(".")[0], "key": key.split(".")[1]} for key in values]
    return {
        "output": dep["output"], "outputs": outputs_of(dep),
        "inputs": [{"id": "limits-apply", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["limits-apply.n_clicks"],
        "state": [
            [{"id": i, "property": "value", "value": v} for i, v in zip(ids, values.values(), strict=True)],
            [{"id": i, "property": "id", "value": i} for i in ids],
            {"id": "limits-preset", "property": "value", "value": None},
            {"id": "limits-shown", "property": "data", "value": {"version": store.limits.version(sid)}},
            shown(sid),
        ],
    }


def test_anonymous_requests_are_refused_and_show_nothing(server: Server) -> None:
    anonymous = requests.Session()
    page = anonymous.get(server.url + "/", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/"
    for path in ("/_dash-layout", "/_dash-dependencies", f"/api/stream?session={server.sid}",
                 f"/report/{server.sid}.html", f"/report/{server.sid}.pdf", "/sessions/", "/audit/",
                 "/assets/vigil.js"):
        response = anonymous.get(server.url + path, allow_redirects=False, headers={"Accept": "application/json"},
                                 timeout=10)
        assert response.status_code == 401, path
        assert PATIENT not in response.text and "auth test" not in response.text, path
    callback = anonymous.post(server.url + "/_dash-update-component", json={"output": "x.children"}, timeout=10)
    assert callback.status_code == 401
    login = anonymous.get(server.url + "/login", timeout=10)
    assert login.status_code == 200 and 'name="password"' in login.text and PATIENT not in login.text


def test_a_nurse_forging_the_limits_callback_gets_403_and_nothing_changes(server: Server) -> None:
    store = Store(server.db)
    nurse = signed_in(server, "nurse-ana")
    before = (store.limits.version(server.sid), store.limits.current(server.sid))
    response = nurse.callback(limits_request(nurse, store, server.sid, sbp_high=150))
    assert response.status_code == 403
    assert (store.limits.version(server.sid), store.limits.current(server.sid)) == before
    refused = [e for e in store.audit.entries(who="nurse-ana") if e.action == "forbidden"]
    assert refused and refused[-1].new == "needs limits"
    assert not [e for e in store.audit.entries(session_id=server.sid) if e.action == "limits" and e.who == "nurse-ana"]
    # Her screen shows the limits read-only, without the Apply button's permission.
    layout = {word for text in json_strings(nurse.http.get(server.url + "/_dash-layout", timeout=10).text)
              for word in text.split()}
    assert "no-limits" in layout and "limits-read-only" in layout and "no-acknowledge" not in layout


def test_a_clinician_changes_a_limit_and_it_is_audited(server: Server) -> None:
    store = Store(server.db)
    clinician = signed_in(server, "dr-ben")
    version = store.limits.version(server.sid)
    response = clinician.callback(limits_request(clinician, store, server.sid, sbp_high=155))
    assert response.status_code == 200, response.text
    assert f"Applied: version {version + 1} by dr-ben." in json_strings(response.text)
    assert store.limits.version(server.sid) == version + 1
    assert store.limits.current(server.sid)["vitals"]["sbp"]["high"] == 155
    change = [e for e in store.audit.entries(session_id=server.sid)
              if e.action == "limits" and e.target == "vitals.sbp.high"][-1]
    assert (change.who, change.new) == ("dr-ben", "155")
    layout = {word for text in json_strings(clinician.http.get(server.url + "/_dash-layout", timeout=10).text)
              for word in text.split()}
    assert "no-limits" not in layout and "limits-read-only" not in layout


def test_a_page_the_role_may_not_see_says_what_it_lacks_and_leads_back(server: Server) -> None:
    """The 403 page is Vigil's (dark, like the sign-in page), names the role's lack, and offers the bed view and a
    sign-out; a request that is not a page (a script's) still gets the plain answer."""
    nurse = signed_in(server, "nurse-ana")
    page = nurse.http.get(server.url + "/audit/", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 403 and page.headers["Content-Type"].startswith("text/html")
    assert "A nurse may not see the audit trail." in page.text and "nurse-ana" in page.text
    assert 'href="/"' in page.text and f'action="{SIGN_OUT}"' in page.text and 'name="_csrf_token"' in page.text
    assert "background: #101418" in page.text
    plain = nurse.http.get(server.url + "/audit/", headers={"Accept": "application/json"}, timeout=10)
    assert plain.status_code == 403 and "Back to the bed view" not in plain.text


def test_a_state_change_without_the_csrf_token_is_refused(server: Server) -> None:
    store = Store(server.db)
    clinician = signed_in(server, "dr-ben")
    before = (store.limits.version(server.sid), store.limits.current(server.sid))
    response = clinician.callback(limits_request(clinician, store, server.sid, sbp_high=165), csrf=False)
    assert response.status_code == 403 and "CSRF" in response.text
    assert (store.limits.version(server.sid), store.limits.current(server.sid)) == before
    # The sign-in form is protected too: a forged sign-in from another site's form is refused.
    forged = requests.post(server.url + "/login", data={"name": "dr-ben", "password": PASSWORD},
                           allow_redirects=False, timeout=10)
    assert forged.status_code == 403


def test_roles_on_the_server(server: Server) -> None:
    """A tester may not acknowledge; a nurse acknowledges; an admin sees the audit page and a nurse does not."""
    store = Store(server.db)
    tester = signed_in(server, "tess")
    dep = next(d for d in tester.dependencies() if any(i["id"] == "ack-button" for i in d["inputs"]))
    ack = {"output": dep["output"], "outputs": outputs_of(dep),
           "inputs": [{"id": "ack-button", "property": "n_clicks", "value": 1}],
           "changedPropIds": ["ack-button.n_clicks"], "state": [shown(server.sid)]}
    assert tester.callback(ack).status_code == 403
    assert signed_in(server, "nurse-ana").callback(ack).status_code == 200
    assert signed_in(server, "nurse-ana").http.get(server.url + "/audit/", timeout=10).status_code == 403
    admin = signed_in(server, "root-admin")
    assert admin.http.get(server.url + "/audit/", timeout=10).status_code == 200
    assert [e.new for e in store.audit.entries(who="tess") if e.action == "forbidden"] == ["needs acknowledge"]


def test_sign_in_refusals_look_alike_and_sign_out_ends_the_session(server: Server) -> None:
    wrong = Client(server.url).sign_in("dr-ben", "not the password")
    unknown = Client(server.url).sign_in("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'id="sign-in-message"[^>]*>([^<]*)<')
    assert message.search(wrong.text).group(1) == message.search(unknown.text).group(1) == "Wrong name or password."
    clinician = signed_in(server, "dr-ben")
    assert clinician.http.get(server.url + "/_dash-layout", timeout=10).status_code == 200
    cookie = clinician.http.cookies.get("vigil_session")
    out = clinician.http.post(server.url + "/logout", data={"_csrf_token": clinician.http.cookies["_csrf_token"]},
                              allow_redirects=False, timeout=10)
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    # The old cookie, replayed after signing out, no longer works: the sign-in ended on the server.
    replay = requests.get(server.url + "/_dash-layout", cookies={"vigil_session": cookie},
                          headers={"Accept": "application/json"}, timeout=10)
    assert replay.status_code == 401


def test_cookies_and_security_headers(server: Server) -> None:
    client = Client(server.url)
    response = client.sign_in("nurse-ana")
    cookie = next(c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith("vigil_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.http.get(server.url + "/", timeout=10)
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "'sha256-" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_head_is_never_a_sign_in_and_a_role_without_view_sees_nothing(server: Server) -> None:
    store = Store(server.db)
    sign_ins = len(store.audit.entries(who="dr-ben"))
    head = requests.head(server.url + "/login", data={"name": "dr-ben", "password": PASSWORD}, timeout=30)
    assert head.status_code == 200 and len(store.audit.entries(who="dr-ben")) == sign_ins
    with store.engine.begin() as conn:  # a role this version does not know (a hand-edited database)
        conn.exec_driver_sql("UPDATE users SET role = 'superuser' WHERE name = 'tess'")
    try:
        odd = signed_in(server, "tess")
        for path in ("/", "/_dash-layout", f"/api/stream?session={server.sid}", f"/report/{server.sid}.html"):
            assert odd.http.get(server.url + path, timeout=10, stream=True).status_code == 403, path
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE users SET role = 'tester' WHERE name = 'tess'")


def test_without_sign_in_only_a_loopback_host_name_is_served(tmp_path: Path) -> None:
    """A page elsewhere cannot reach a --no-auth dashboard by re-pointing its own name at 127.0.0.1."""
    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("local", "live", patient_label=PATIENT)
    url, process = start_dashboard(tmp_path / "v.db", sid, "--no-auth")
    try:
        port = url.rsplit(":", 1)[1]
        assert requests.get(url + "/", timeout=10).status_code == 200
        assert requests.get(f"http://localhost:{port}/", timeout=10).status_code == 200
        rebound = requests.get(url + f"/report/{sid}.html", headers={"Host": f"attacker.example:{port}"}, timeout=10)
        assert rebound.status_code == 400 and PATIENT not in rebound.text
        assert [e.action for e in store.audit.entries(session_id=sid)] == ["session_start"]
    finally:
        process.terminate()
        process.wait(10)


def test_an_open_live_stream_ends_when_its_sign_in_does(server: Server) -> None:
    Accounts(Store(server.db)).add("temp-nurse", "nurse", PASSWORD, by="test")
    nurse = signed_in(server, "temp-nurse")
    stream = nurse.http.get(f"{server.url}/api/stream?session={server.sid}", stream=True, timeout=30)
    assert stream.status_code == 200
    lines = stream.iter_lines()
    assert any(line.startswith(b"data: ") for line in lines)  # the live view runs ...
    signed_out = nurse.http.post(server.url + "/logout", data={"_csrf_token": nurse.http.cookies["_csrf_token"]},
                                 allow_redirects=False, timeout=10)
    assert signed_out.status_code == 302
    last = [line for line in lines if line.startswith(b"data: ")]  # ... and ends after the sign-out
    assert json.loads(last[-1][6:]) == {"signedOut": True}


def test_every_server_callback_declares_the_permission_it_needs(tmp_path: Path) -> None:
    """A callback added without `require(...)` would be callable by any signed-in role: none may exist."""
    import flask

    from monitor.web.app import DashboardConfig, create_app
    from monitor.web.audit import create_audit_app
    from monitor.web.history import create_history_app
    from monitor.web.users import create_users_app

    store = Store(tmp_path / "v.db")
    sid = store.sessions.create("s", "replay")
    runner = ReplayRunner(store, sid, ReplaySource([Reading(T0, "hr", 70)], 1, time.monotonic()))  # not started
    apps = [create_app(DashboardConfig(store, lambda: sid, runner=runner)),
            create_history_app(flask.Flask("h"), store, UTC),
            create_audit_app(flask.Flask("a"), store, UTC), create_users_app(flask.Flask("u"), store, UTC)]
    callbacks = [(key, entry["callback"]) for app in apps for key, entry in app.callback_map.items()
                 if "callback" in entry]  # the others run in the browser
    assert len(callbacks) >= 19  # with the replay controls
    assert [key for key, callback in callbacks if not hasattr(callback, "permission")] == []


def test_malformed_requests_get_a_4xx_and_one_log_line_each(tmp_path: Path) -> None:
    """Signed in, a script sends callback requests Dash's renderer never would, or with values the page never
    sends: each is a 4xx (they were 500s, each with a traceback in the log) with one log line, and none acts."""
    db = tmp_path / "v.db"
    store = Store(db)
    sid = store.sessions.create("malformed", "live")
    store.sessions.set_clock(sid, T0, datetime.now(UTC), 1.0)
    assert add_user(db, "dr-ben", "clinician").returncode == 0
    url, process = start_dashboard(db, sid)
    try:
        client = signed_in(Server(url, db, sid, process), "dr-ben")
        note = next(d for d in client.dependencies() if any(i["id"] == "note-add" for i in d["inputs"]))
        add_note = {"output": note["output"], "outputs": outputs_of(note), "changedPropIds": ["note-add.n_clicks"],
                    "inputs": [{"id": "note-add", "property": "n_clicks", "value": 1}],
                    "state": [{"id": "note-text", "property": "value", "value": "a note"}, shown(sid)]}
        bad = {
            "an unknown callback": {**add_note, "output": "nope.children"},
            "a 10 MB JSON array": "[" + ",".join(["1"] * 5_000_000) + "]",
            "a JSON array": [add_note],
            "no JSON": "{",
            "no inputs": {**add_note, "inputs": []},
            "too few outputs": {**add_note, "outputs": add_note["outputs"][:1]},
            "a state that is no property": {**add_note, "state": ["a note"]},
            "a note that is no text": {**add_note, "state": [{"id": "note-text", "property": "value", "value": [1]},
                                                               shown(sid)]},
            "a note to no session": {**add_note, "state": [add_note["state"][0], shown(sid + 1)]},
            "a note to a session that is no number": {**add_note, "state": [add_note["state"][0], shown(str(sid))]},
        }
        review = next(d for d in client.dependencies("/sessions/") if d["inputs"][0]["id"] == "sessions-grid")
        bad["a review of no session"] = {
            "output": review["output"], "outputs": outputs_of(review), "state": [],
            "inputs": [{"id": "sessions-grid", "property": "selectedRows", "value": [{"id": sid + 1}]}]}
        headers = {"X-CSRFToken": client.http.cookies["_csrf_token"], "Content-Type": "application/json"}
        answers = {what: client.http.post(url + ("/sessions/" if what == "a review of no session" else "/")
                                          + "_dash-update-component", headers=headers, timeout=60,
                                          data=body if isinstance(body, str) else json.dumps(body)).status_code
                   for what, body in bad.items()}
        assert answers == {what: 413 if what == "a 10 MB JSON array" else 400 for what in bad}
        assert store.samples.events_with_authors(sid) == []
        assert client.callback(add_note).status_code == 200  # the request as the renderer sends it still works
        assert [s.event.text for s in store.samples.events_with_authors(sid)] == ["a note"]
    finally:
        process.terminate()
        process.wait(10)
    logged = process.stderr.read().splitlines()
    assert "Traceback (most recent call last):" not in logged
    assert len(logged) == len(bad) and all(line.startswith("vigil: WARNING: refused a ") for line in logged), logged
    store.close()


def test_a_callback_value_must_be_of_its_parameters_annotated_type() -> None:
    """What `require` checks each callback value against (the type the page sends), as JSON gives it."""
    cases = [("x", str | None, True), (None, str | None, True), (["x"], str | None, False), (7, float, True),
             (7.5, int, False), (True, int, False), ([{"id": 3}], list[dict] | None, True), ([3], list[dict], False),
             ({}, dict, True), ([None, 2], list, True), ("9", Any, True)]
    assert [json_fits(value, hint) for value, hint, _ in cases] == [fits for *_, fits in cases]


def test_static_files_go_compressed_and_cacheable_and_nothing_private_is_kept(server: Server) -> None:
    """The page's scripts and styles (MBs) go compressed, and a browser may keep them: their URLs change with
    their content. Pages, data, records, the stream and refusals are never kept; the stream is never compressed
    (a compressor holds back what it sends)."""
    client = signed_in(server, "nurse-ana")
    page = client.http.get(server.url + "/", timeout=10)
    static = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page.text)
    assert any("dash_renderer" in url for url in static) and any("/assets/" in url for url in static), static
    wire = decoded = 0
    for url in static:
        with client.http.get(server.url + url, stream=True, timeout=30) as response:
            sent = response.raw.read(decode_content=False)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        encoding = response.headers.get("Content-Encoding")
        wire += len(sent)
        decoded += len(sent) if encoding is None else len(client.http.get(server.url + url, timeout=30).content)
        assert encoding in ("gzip", "br", "zstd", "deflate") or len(sent) < 2000, url
    assert wire < decoded / 2, (wire, decoded)
    for path in ("/", "/_dash-layout", "/_dash-dependencies", f"/report/{server.sid}.html", "/sessions/"):
        response = client.http.get(server.url + path, timeout=30)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path
    with client.http.get(f"{server.url}/api/stream?session={server.sid}", stream=True, timeout=10) as stream:
        assert stream.headers["Cache-Control"] == "no-store" and "Content-Encoding" not in stream.headers
    for url in static[:2]:  # before sign-in: refused, and the refusal is not kept either
        anonymous = requests.get(server.url + url, allow_redirects=False, timeout=10)
        assert anonymous.status_code in (302, 401) and anonymous.headers["Cache-Control"] == "no-store", url


def test_the_log_holds_no_password_and_no_patient_label(server: Server, tmp_path: Path) -> None:
    """Run last in this module: it stops the shared server to read everything it logged."""
    store = Store(server.db)
    Client(server.url).sign_in("dr-ben", "a-wrong-password-1")
    nurse = signed_in(server, "nurse-ana")
    nurse.callback(limits_request(nurse, store, server.sid, sbp_high=140))  # refused and logged
    server.process.terminate()
    server.process.wait(10)
    logged = server.stderr()
    assert "forbidden" in logged  # the refusal is logged ...
    assert PASSWORD not in logged and "a-wrong-password-1" not in logged and PATIENT not in logged  # ... safely
    if "://" not in server.db:  # the file and its WAL, whole: nothing typed is kept in the clear
        file = Path(server.db)
        raw = file.read_bytes() + b"".join(p.read_bytes() for p in file.parent.glob("vigil.db-*"))
        assert PASSWORD.encode() not in raw and b"a-wrong-password-1" not in raw
    with store.engine.connect() as conn:
        hashes = [row[0] for row in conn.exec_driver_sql("SELECT pw_hash FROM users")]
    assert len(hashes) >= len(USERS) and all(h.startswith("$argon2id$") for h in hashes)
    assert len(set(hashes)) == len(hashes)  # salted: one password, a different hash for each user
    assert json.dumps(hashes).count(PASSWORD) == 0

