"""What the pages beside the bed view (history, audit, users) share: how each is mounted and its header.

Each is a Dash app of its own on the bed view's Flask server (one process, one port, one sign-in guard).
They share the assets folder for its CSS but must not load the bed view's scripts, which open a stream
and drive alarm sounds for a bed these pages do not show.
"""

from __future__ import annotations

import dash_mantine_components as dmc
import flask
from dash import Dash, html

from monitor.web import urls

# The bed view's scripts (every .js in assets/); the CSS in the folder is shared.
BED_VIEW_SCRIPTS = r"^(?!vigil_auth\.js$).*\.js$"  # every script but the one that handles an ended sign-in


def page_app(server: flask.Flask, path: str, title: str) -> Dash:
    """A Dash app for one page, mounted at `path` (one of `urls.DASH_APPS`) on `server`."""
    # Dash takes a Flask server and update_title=None, whatever its annotations say.
    return Dash(__name__, server=server, url_base_pathname=path, title=f"Vigil — {title}",  # type: ignore[arg-type]
                update_title=None, serve_locally=True, assets_ignore=BED_VIEW_SCRIPTS)  # type: ignore[arg-type]


def page_header(title: str) -> html.Div:
    """The page's name and the way back to the bed view."""
    return html.Div(className="history-header", children=[
        html.Span("Vigil", className="history-brand"),
        html.Span(title, className="history-title"),
        dmc.Anchor("Bed view", href=urls.BED_VIEW, refresh=True),
    ])
