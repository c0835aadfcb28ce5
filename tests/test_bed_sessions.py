"""A bed view app is not bound to one session: each page load shows the session its bed has then, and each
action acts on the session its page shows (issue 13: the web layer takes a session chosen per request)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from support import NO_SIGN_IN, outputs_of

from adapters.model.reading import Reading
from monitor.store import Store
from monitor.web.app import DashboardConfig, create_app
from monitor.web.bed import ids

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def props_of(layout: dict, component_id: str) -> dict:
    """The props the served page gives component `component_id`."""
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == component_id:
                found.append(node["props"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    assert len(found) == 1
    return found[0]


def shown_in(layout: dict) -> object:
    """The session id the served page keeps for its actions (the `ids.SHOWN_SESSION` store)."""
    return props_of(layout, ids.SHOWN_SESSION)["data"]


def test_each_page_shows_the_beds_session_of_the_moment_and_acts_on_the_one_it_shows(store: Store) -> None:
    first, second = (store.sessions.create(name, "live") for name in ("first patient", "second patient"))
    for sid in (first, second):
        store.sessions.set_clock(sid, T0, datetime.now(UTC), 1.0)
    current = {"session": first}
    app = create_app(DashboardConfig(store, lambda: current["session"], auth=NO_SIGN_IN))
    client = app.server.test_client()
    assert shown_in(client.get("/_dash-layout").get_json()) == first
    current["session"] = second  # the bed moved on: the next page load shows the new session
    assert shown_in(client.get("/_dash-layout").get_json()) == second

    note = next(d for d in client.get("/_dash-dependencies").get_json()
                if any(i["id"] == ids.NOTE_ADD for i in d["inputs"]))
    token = client.get_cookie("_csrf_token")
    assert token is not None
    for sid, text in ((first, "on the first page"), (second, "on the second page")):
        body = {"output": note["output"], "changedPropIds": [f"{ids.NOTE_ADD}.n_clicks"],
                "outputs": outputs_of(note),
                "inputs": [{"id": ids.NOTE_ADD, "property": "n_clicks", "value": 1}],
                "state": [{"id": ids.NOTE_TEXT, "property": "value", "value": text},
                          {"id": ids.SHOWN_SESSION, "property": "data", "value": sid}]}
        answer = client.post("/_dash-update-component", data=json.dumps(body),
                             headers={"Content-Type": "application/json", "X-CSRFToken": token.value})
        assert answer.status_code == 200, answer.text
    assert [e.event.text for e in store.samples.events_with_authors(first)] == ["on the first page"]
    assert [e.event.text for e in store.samples.events_with_authors(second)] == ["on the second page"]


def test_a_page_shows_the_latest_values_at_its_first_render(store: Store) -> None:
    """The numerics come with the page (not after the stream's first message or a callback round), as the
    browser's painter then writes them: 97.5 rounds half away from zero, as JavaScript's toFixed."""
    sid = store.sessions.create("latest", "live")
    store.samples.write(sid, [Reading(T0, "hr", 72), Reading(T0, "spo2", 97.5), Reading(T0, "sbp", 121),
                              Reading(T0, "dbp", 79), Reading(T0, "map", 93)])
    app = create_app(DashboardConfig(store, lambda: sid, auth=NO_SIGN_IN))
    layout = app.server.test_client().get("/_dash-layout").get_json()
    shown = {key: props_of(layout, ids.number(key))["children"] for key in ids.TILE_KEYS}
    assert shown == {"bp": "121/79", "hr": "72", "spo2": "98", "pr": "--", "rr": "--"}
    assert props_of(layout, ids.NUM_MAP)["children"] == "MAP 93"
    assert "nodata" not in props_of(layout, ids.tile("hr"))["className"]
    assert "nodata" in props_of(layout, ids.tile("pr"))["className"]
