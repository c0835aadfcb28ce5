"""What a browser may keep: the Dash apps' static files (fingerprinted ones for a year), nothing else at all.

A page load is mostly static code (plotly.min.js alone is 4.8 MB): compressed on the wire (Flask-Compress, which
`Dash(compress=True)` installs on the server) and kept by the browser, so later loads fetch only the page and its
data. Only a file whose URL changes when its content does may be kept: Dash's component bundles (a version and
modification stamp in the name) and our assets as the page links them (`?m=` modification time); a static file
linked without one (a bundle's lazily loaded chunk) is kept but checked each time (`no-cache`, by its ETag). Every other
response — pages, layouts with patient data, callbacks, the stream, the records, refusals — is `no-store`, so it
stays out of the browser's cache, off the disk of a shared ward PC and out of any proxy.

The sign-in guard runs first (`auth`): a request refused there gets its refusal, with `no-store`.
"""

from __future__ import annotations

from collections.abc import Iterable

from dash import Dash
from dash.fingerprint import check_fingerprint
from flask import Flask, Request, Response, request

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
PRIVATE = "no-store"
SUITES = "_dash-component-suites/"
ASSET_STAMP = "m"  # the query parameter Dash adds to an asset's URL: its modification time


def static_policy(req: Request, suites: tuple[str, ...], assets: tuple[str, ...]) -> str | None:
    """How a browser may keep the static file `req` asks for (None: it is no static file)."""
    path = req.path
    if path.startswith(suites):
        return IMMUTABLE if check_fingerprint(path.rsplit("/", 1)[-1])[1] else REVALIDATE
    if path.startswith(assets):
        return IMMUTABLE if ASSET_STAMP in req.args else REVALIDATE
    return None


def install(server: Flask, apps: Iterable[Dash]) -> None:
    """Cache headers on every response of `server`, for the static files of `apps` (Dash apps on it)."""
    apps = list(apps)
    suites = tuple(app.config.requests_pathname_prefix + SUITES for app in apps)
    assets = tuple(app.get_asset_url("") for app in apps)

    @server.after_request
    def cache_headers(response: Response) -> Response:
        policy = static_policy(request, suites, assets) if response.status_code in (200, 304) else None
        response.headers["Cache-Control"] = policy or PRIVATE
        return response
