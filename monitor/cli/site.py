"""`vigil serve --config site.toml`: a whole site — every bed of the file — in one process, on one server.

The site file is checked whole before anything is opened or written (`monitor/site/config.py`); then the
store, sign-in and the HTTP port, as for `vigil monitor`; then the beds (`monitor/runtime/site.py`), each
at `/bed/<id>/`. A bed whose port does not open is served offline while it retries: it never stops the site.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from monitor.cli.options import (
    UsageError,
    bind_listener,
    common_db,
    common_operator,
    common_server,
    display_zone,
    open_store,
    serve_app,
    server_auth,
)


def add_site_commands(sub: Any) -> None:
    """Add `serve` to the `vigil` subparsers."""
    serve = sub.add_parser("serve", help="run a site: every bed of a site.toml in one process, each at /bed/ID/")
    serve.set_defaults(handler=cmd_serve)
    serve.add_argument("--config", type=Path, required=True, metavar="site.toml",
                       help="the site file: its beds (serial ports, replayed recordings), its name and database")
    common_db(serve)  # given, it overrides the site file's db
    common_server(serve, port_flag="--http-port")
    common_operator(serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from monitor.site.config import SiteError, load_site

    try:
        config = load_site(args.config)
    except SiteError as exc:
        raise UsageError(str(exc)) from None
    from monitor.runtime.site import Site  # the runners and Dash load only for a site that will run
    from monitor.web.app import DashboardConfig, create_site_app

    if args.db is None and config.db is not None:
        args.db = config.db
    store = open_store(args)
    auth = server_auth(args, store)  # refused, and a busy HTTP port fails, before any bed is opened
    listener = bind_listener(args.host, args.http_port, "--http-port")
    try:
        site = Site(store, config, args.operator)
    except OSError as exc:  # the HL7 listener's port
        host, port = config.hl7_listen or ("", 0)
        raise UsageError(f"cannot listen for HL7 on {host}:{port} ({exc.strerror or exc}); change [hl7] listen in "
                         f"{args.config}") from None
    zone, window = display_zone(None, False), timedelta(minutes=args.window)
    views = [(bed.config.id, bed.config.label,
              DashboardConfig(store, bed.session, zone, window, bed.replay, operator=args.operator, auth=auth))
             for bed in site.beds]
    for bed in site.beds:
        state = f"offline: {bed.offline} (retrying)" if bed.offline else f"session {bed.session()}"
        print(f"bed {bed.config.id}: {state}", flush=True)
    if site.hl7 is not None:
        print(f"HL7 (MLLP) listener on {site.hl7.listener.host}:{site.hl7.listener.port}", flush=True)
    return serve_app(args, create_site_app(store, views, zone, auth, args.operator), auth, listener, site)
