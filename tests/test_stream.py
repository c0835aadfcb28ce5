"""`/api/stream` over real HTTP: only what is new, cursor ids that resume without gaps, small payloads."""

from __future__ import annotations

import ctypes
import http.client
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import NO_SIGN_IN, commit_from_another_process, settled, wait_until
from werkzeug.serving import make_server

from adapters.model.reading import Event, Reading
from monitor.limits.model import load_preset
from monitor.store import Store
from monitor.store.beds import Bed
from monitor.web.app import DashboardConfig, create_app

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def hr(i: int) -> Reading:
    return Reading(T0 + timedelta(seconds=i), "hr", 70 + i % 5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Store, int, int]]:
    store = Store(tmp_path / "vigil.db")
    session_id = store.sessions.create("stream test", "replay")
    store.limits.save(session_id, load_preset("iv-ketamine").to_dict(), datetime(2026, 1, 1, tzinfo=UTC), "test")
    app = create_app(DashboardConfig(store, lambda: session_id, auth=NO_SIGN_IN))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield store, session_id, server.server_port
    server.shutdown()
    store.close()


class SseClient:
    """A minimal EventSource: reads `id:`/`data:` fields from a live HTTP response."""

    def __init__(self, port: int, session_id: int, last_event_id: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", f"/api/stream?session={session_id}", headers=headers)
        self.response = self.conn.getresponse()

    def next_message(self) -> tuple[str | None, dict, int]:
        """The next data message: (id, data, bytes on the wire)."""
        event_id, data, size = None, None, 0
        while True:
            line = self.response.fp.readline()
            size += len(line)
            text = line.decode().rstrip("\n")
            if text.startswith("id: "):
                event_id = text[4:]
            elif text.startswith("data: "):
                data = json.loads(text[6:])
            elif text == "" and data is not None:
                return event_id, data, size

    def close(self) -> None:
        self.conn.close()


def readings_until(client: SseClient, count: int) -> tuple[list[list], str | None, list[int]]:
    got: list[list] = []
    last_id, sizes = None, []
    while len(got) < count:
        last_id, data, size = client.next_message()
        got += data.get("r", [])
        sizes.append(size)
    return got, last_id, sizes


def test_stream_pushes_new_readings_and_resumes_from_last_event_id(served) -> None:
    store, session_id, port = served
    store.samples.write(session_id, [hr(i) for i in range(5)], [Event(T0, "dose_start")])
    client = SseClient(port, session_id)
    assert client.response.status == 200
    assert client.response.getheader("Content-Type").startswith("text/event-stream")
    first, last_id, _ = readings_until(client, 5)
    assert [r[2] for r in first] == [hr(i).value for i in range(5)]

    for i in range(5, 10):  # one reading per commit, as at 1 reading/s
        store.samples.write(session_id, [hr(i)])
    more, last_id, sizes = readings_until(client, 5)
    assert [r[0] for r in more] == [int(hr(i).time.timestamp() * 1000) for i in range(5, 10)]
    assert max(sizes) < 1024, "a live update must stay under 1 KB"
    client.close()

    # The browser reconnects with Last-Event-ID: it gets exactly what it missed, nothing twice.
    store.samples.write(session_id, [hr(i) for i in range(10, 13)])
    resumed = SseClient(port, session_id, last_event_id=last_id)
    missed, _, _ = readings_until(resumed, 3)
    assert [r[0] for r in missed] == [int(hr(i).time.timestamp() * 1000) for i in range(10, 13)]
    resumed.close()


def test_stream_carries_events_and_clock(served) -> None:
    store, session_id, port = served
    store.sessions.set_clock(session_id, T0, datetime.now(UTC), 60.0)
    store.samples.write(session_id, [], [Event(T0, "note", "patient dizzy <b>&</b>")])
    client = SseClient(port, session_id)
    _, data, _ = client.next_message()
    # The label is Plotly text, escaped as the server-built trend's (Plotly would read <b> as markup).
    assert data["e"] == [[int(T0.timestamp() * 1000), "note", "Note: patient dizzy &lt;b&gt;&amp;&lt;/b&gt;"]]
    assert data["k"]["speed"] == 60.0 and data["k"]["pos"] == int(T0.timestamp() * 1000)
    client.close()


def test_stream_tells_the_browser_to_rebuild_after_a_rewind(served) -> None:
    store, session_id, port = served
    store.samples.write(session_id, [hr(i) for i in range(10)])
    client = SseClient(port, session_id)
    client.next_message()
    store.samples.truncate_after(session_id, hr(4).time)
    while True:
        _, data, _ = client.next_message()
        if data.get("reset"):
            break
    client.close()


def test_a_bed_view_follows_its_bed_to_the_next_session(tmp_path: Path) -> None:
    """End session, and the bed's next reading opens the next session: the ended session's stream tells the page to
    rebuild (which shows the bed's session now); until then it stays open on the ended one."""
    store = Store(tmp_path / "beds.db")
    store.beds.declare(Bed("chair-1", "Chair 1"), "admin")
    limits = load_preset("iv-ketamine").to_dict()
    first, _ = store.beds.session("chair-1", name="first", who="nurse", limits=limits, limits_from=T0)
    server = make_server("127.0.0.1", 0, create_app(DashboardConfig(store, lambda: first, auth=NO_SIGN_IN)).server,
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = SseClient(server.server_port, first)
    try:
        store.samples.write(first, [hr(i) for i in range(3)])
        store.sessions.end(first, "nurse", datetime.now(UTC), hr(3).time)
        while not client.next_message()[1].get("S", {}).get("ended"):  # the page hears of the end, and stays
            pass
        second, opened = store.beds.session("chair-1", name="second", who="nurse", limits=limits, limits_from=T0)
        assert opened and second != first
        while not client.next_message()[1].get("reset"):
            pass
    finally:
        client.close()
        server.shutdown()
        store.close()


def test_unknown_session_is_404(served) -> None:
    _, _, port = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/stream?session=999")
    assert conn.getresponse().status == 404


def waiting_for_the_store(thread: threading.Thread) -> bool:
    """Whether `thread` is in `Store.wait_for_change`, where an idle stream spends its time (not writing)."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None and frame.f_code.co_name != "wait_for_change":
        frame = frame.f_back
    return frame is not None


def test_a_served_bed_view_hears_what_another_process_commits(served, tmp_path: Path) -> None:
    """`vigil acquire` writing and the view streaming: the server watches the database from the start, so a
    stream is woken by another process's commit, not by looking again (it never starts the watcher itself)."""
    store, session_id, _ = served
    generation = settled(store)
    commit_from_another_process(tmp_path / "vigil.db", session_id)
    assert store.wait_for_change(generation, timeout=60) != generation  # woken: an unwatched store would time out


def test_a_stream_stopped_by_dash_test_server_ends_without_an_unhandled_exception(
        served, monkeypatch: pytest.MonkeyPatch) -> None:
    """dash.testing stops its server by raising SystemExit in every thread the server started (PyThreadState_
    SetAsyncExc), a stream's too (the browser tests' server): the stream ends, and nothing is left unhandled in its
    thread. Raised here the same way into the stream's thread alone (dash.testing picks its threads by thread id,
    which the system reuses: under load it may miss one, which made this test flaky, not the stream).

    The stream's first wait used to start the store's watcher thread: the exception could then land in the new
    thread (its thread state bears its starter's id until it runs) and the stream waited for it forever, about one
    run in twelve. The server now starts the watcher as it is built."""
    _, session_id, port = served
    unhandled: list = []
    monkeypatch.setattr(threading, "excepthook", unhandled.append)
    earlier = set(threading.enumerate())  # other tests' streams may still be winding down
    client = SseClient(port, session_id)
    client.next_message()
    streams: list[threading.Thread] = []
    wait_until(lambda: bool(streams.extend(t for t in set(threading.enumerate()) - earlier
                                           if waiting_for_the_store(t)) or streams),
               "the stream to wait for the store")
    stream = streams[0]
    assert stream.ident is not None
    assert ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(stream.ident), ctypes.py_object(SystemExit)) == 1
    client.response.fp.read()  # to the end: the stream has ended ...
    stream.join(10)
    assert not stream.is_alive()
    assert [(u.exc_type, u.thread.name) for u in unhandled] == []  # ... and its thread with it, quietly
    client.close()
