"""The web layer is wired by name: every route is in the URL table, the browser scripts take component ids and
paths from the page's config, and no clientside callback returns its outputs by position."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from support import ROOT

from adapters.files.replay import ReplaySource
from adapters.model.reading import Reading
from monitor.runtime.replay import ReplayRunner
from monitor.store import Store
from monitor.web import urls
from monitor.web.app import DashboardConfig, create_app, create_site_app
from monitor.web.auth import AuthSettings
from monitor.web.bed import ids
from monitor.web.site.page import browser_config

ASSETS = ROOT / "monitor" / "web" / "assets"
DASH_LAYOUT = "_dash-layout"  # a route every Dash app serves under its prefix


def bed_app(store: Store, auth: AuthSettings | None = None):
    sid = store.sessions.create("names", "replay")
    runner = ReplayRunner(store, sid, ReplaySource([Reading(datetime(2026, 1, 1, tzinfo=UTC), "hr", 70)], 1,
                                                   time.monotonic()))  # not started: only its controls are wanted
    return create_app(DashboardConfig(store, lambda: sid, runner=runner, auth=auth or AuthSettings()))


def test_every_route_the_server_answers_is_in_the_url_table(store: Store) -> None:
    rules = list(bed_app(store).server.url_map.iter_rules())
    dash_own = [r for r in rules if r.endpoint.startswith("/") or r.endpoint.endswith("dash_assets.static")]
    prefixes = {r.rule.removesuffix(DASH_LAYOUT) for r in dash_own if r.rule.endswith(DASH_LAYOUT)}
    assert prefixes == set(urls.DASH_APPS)
    assert all(r.rule.startswith(tuple(urls.DASH_APPS)) for r in dash_own)
    ours = {r.rule for r in rules if r not in dash_own and r.endpoint != "static"}  # "static": Flask's own
    assert ours == set(urls.ROUTES)


def test_a_site_server_answers_each_beds_view_under_its_prefix_and_only_routes_in_the_table(store: Store) -> None:
    sid = store.sessions.create("site", "replay")
    beds = [(bed, bed.upper(), DashboardConfig(store, lambda: sid)) for bed in ("chair-1", "chair-2")]
    server = create_site_app(store, beds, UTC, AuthSettings(), "operator")
    rules = list(server.url_map.iter_rules())
    dash_own = [r for r in rules if r.endpoint.startswith("/") or r.endpoint.endswith("dash_assets.static")]
    prefixes = {r.rule.removesuffix(DASH_LAYOUT) for r in dash_own if r.rule.endswith(DASH_LAYOUT)}
    assert prefixes == {urls.site_bed("chair-1"), urls.site_bed("chair-2"), urls.SITE,
                        *(set(urls.DASH_APPS) - {urls.BED_VIEW})}
    assert {r.rule for r in rules if r not in dash_own and r.endpoint != "static"} == {*urls.ROUTES, urls.SITE_STREAM}
    client = server.test_client()  # sign-in required: the beds' views and their list are behind it
    for path in (urls.SITE, urls.site_bed("chair-1"), urls.site_bed("chair-2") + DASH_LAYOUT):
        response = client.get(path, headers={"Accept": "text/html"})
        assert (response.status_code, response.location) == (302, urls.sign_in_then(path))


def test_the_bed_view_scripts_take_ids_and_paths_from_the_config() -> None:
    scripts = {path.name: path.read_text() for path in ASSETS.glob("*.js")}
    central = browser_config([])  # the central view's script has a config of its own
    for name, text in scripts.items():
        page_ids, page_urls = ((central["ids"], central["urls"]) if name == "vigil_site.js"
                               else (ids.browser_ids(), urls.browser_urls()))
        assert not re.search(r"set_props\(\s*[\"']", text), f"{name} names a component itself"
        assert not re.search(r"querySelector(All)?\(\s*[\"']#\w", text), f"{name} names a component itself"
        assert not re.search(r"[\"'][\w-]+\.(n_clicks|value|data|children)[\"']", text), f"{name} names a prop id"
        assert set(re.findall(r"\bids\.([a-z]\w*)", text)) <= set(page_ids), name
        assert set(re.findall(r"\bconfig\.urls\.(\w+)", text)) <= set(page_urls), name
        assert not re.search(r"[\"']/(api|login|logout|report|sessions|audit|users)\b", text) or name == "vigil_auth.js"
    # vigil_auth.js runs on pages without the bed view's config: its one path is a copy, checked here.
    assert re.findall(r"const SIGN_IN = \"([^\"]+)\"", scripts["vigil_auth.js"]) == [urls.SIGN_IN]


def test_no_clientside_callback_returns_several_outputs_by_position(store: Store) -> None:
    """A clientside callback of several outputs goes through `named_clientside_callback` (an inline function that
    lists the outputs by name), never straight to an asset's function, whose array would have to match in order."""
    app = bed_app(store, AuthSettings(required=False))
    dependencies = app.server.test_client().get(urls.BED_VIEW + "_dash-dependencies").get_json()
    clientside = [d for d in dependencies if d.get("clientside_function")]
    several = [d for d in clientside if d["output"].startswith("..")]  # Dash's spelling of a list of outputs
    assert len(several) == 4  # the session, the alarms, the replay bar, the limits editor
    assert [d["clientside_function"]["namespace"] for d in several] == ["_dashprivate_clientside_funcs"] * 4
