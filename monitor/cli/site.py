"""`vigil serve --config site.toml`: a whole site — every bed of the file — in one process, on one server.
`vigil serve --config site.toml --no-acquire`: the same views of a site whose beds chair computers acquire
(`monitor/cli/chair.py`), all sharing one database: this process opens no port and runs no bed.
`vigil demo`: a small clinic, served the same way, with no site file, no set-up and no sign-in.

The site file is checked whole before anything is opened or written (`monitor/site/config.py`); then the
store, sign-in and the HTTP port, as for `vigil monitor`; then the beds (`monitor/runtime/site.py`), each
at `/bed/<id>/`. A bed whose port does not open is served offline while it retries: it never stops the site.
A bed another process acquires (a chair computer) is refused, naming it, before any bed is opened.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    speed_arg,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from monitor.runtime.site import Site
    from monitor.runtime.spool import Spool
    from monitor.site.config import SiteConfig
    from monitor.store import Store
    from monitor.web.auth import AuthSettings

DEMO_SPEED = "20"
DEMO_BADGE = "local demo — no login"
# The demo clinic: each bundled sample on a chair of its own, played from a different point (minutes into its
# recording) and over again, so that at any moment one chair is before its dose, one at its devices, one in
# an infusion whose blood pressure climbs, one in the observation after it.
DEMO_CHAIRS = (("iv_ketamine.csv", 0), ("esketamine.csv", 20), ("hypertensive.csv", 40), ("artefacts.csv", 70))


def add_site_commands(sub: Any) -> None:
    """Add `serve` to the `vigil` subparsers."""
    serve = sub.add_parser("serve", help="run a site: every bed of a site.toml in one process, each at /bed/ID/")
    serve.set_defaults(handler=cmd_serve)
    serve.add_argument("--config", type=Path, required=True, metavar="site.toml",
                       help="the site file: its beds (serial ports, replayed recordings), its name and database")
    common_db(serve)  # given, it overrides the site file's db
    serve.add_argument("--no-acquire", action="store_true",
                       help="serve the central and bed views only: chair computers acquire the beds "
                            "(vigil acquire --config site.toml --bed ID) into the site's shared database")
    common_server(serve, port_flag="--http-port")
    common_operator(serve)

    demo = sub.add_parser("demo", help="a small clinic: the four bundled sample sessions on four chairs, no set-up")
    demo.set_defaults(handler=cmd_demo)
    demo.add_argument("--speed", type=speed_arg, default=DEMO_SPEED, help=f"replay speed (default {DEMO_SPEED})")
    common_db(demo)
    common_server(demo, sign_in=False)
    common_operator(demo)


def site_file(args: argparse.Namespace) -> SiteConfig:
    """The site file `--config` names, checked whole; its database is the one used unless --db names another."""
    from monitor.site.config import SiteError, load_site

    try:
        config = load_site(args.config)
    except SiteError as exc:
        raise UsageError(str(exc)) from None
    if args.db is None and config.db is not None:
        args.db = config.db
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    config = site_file(args)
    store = open_store(args)
    auth = server_auth(args, store)  # refused, and a busy HTTP port fails, before any bed is opened
    listener = bind_listener(args.host, args.http_port, "--http-port")
    if args.no_acquire:
        return _serve_remote(args, store, config, auth, listener)
    return _run_site(args, store, config, auth, listener)


def cmd_demo(args: argparse.Namespace) -> int:
    from adapters.files.csv_reader import read_session_csv
    from monitor.config import sample_path
    from monitor.site.config import ReplayBed, SiteConfig

    store = open_store(args)
    auth = server_auth(args, store, demo_label=DEMO_BADGE)  # refused off this computer, before any work
    listener = bind_listener(args.host, args.http_port)
    repeat = args.speed != "max"  # at max speed each chair stores its recording once, then rests
    chairs = []
    for number, (sample, minutes) in enumerate(DEMO_CHAIRS, 1):
        path = sample_path(sample)
        chairs.append(ReplayBed(f"chair-{number}", f"Chair {number}", path, read_session_csv(path), args.speed,
                                None, None, begin_at=timedelta(minutes=minutes), repeat=repeat))
    print(f"Replaying the four bundled sample sessions on four chairs at {args.speed}×.", flush=True)
    return _run_site(args, store, SiteConfig(Path("demo"), "Vigil demo clinic", None, tuple(chairs)), auth,
                     listener)


def open_site(store: Store | None, config: SiteConfig, operator: str, *, spool: Spool | None = None,
              connect: Callable[[], Store] | None = None) -> Site:
    """Hold and open every bed of `config`, and say how each one started; what stops it is one line. `spool`,
    `connect`: a chair's (`monitor/cli/chair.py`), whose `store` is None while its database is out of reach."""
    from monitor.runtime.lease import BedHeld
    from monitor.runtime.site import Site  # the runners load only for a site that will run

    try:
        site = Site(store, config, operator, spool=spool, connect=connect)
    except BedHeld as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # the HL7 listener's port
        host, port = config.hl7_listen or ("", 0)
        raise UsageError(f"cannot listen for HL7 on {host}:{port} ({exc.strerror or exc}); change [hl7] listen in "
                         f"{config.path}") from None
    for bed in site.beds:
        state = (f"offline: {bed.offline} (retrying)" if bed.offline else
                 "session known once the database is reached" if store is None else f"session {bed.session()}")
        print(f"bed {bed.config.id}: {state}", flush=True)
    if site.hl7 is not None:
        print(f"HL7 (MLLP) listener on {site.hl7.listener.host}:{site.hl7.listener.port}", flush=True)
    return site


def _run_site(args: argparse.Namespace, store: Store, config: SiteConfig, auth: AuthSettings, listener: int) -> int:
    """Open every bed of the site, say how each one started, and serve them all until stopped."""
    from monitor.web.app import DashboardConfig, create_site_app  # Dash loads only for a site that will run

    site = open_site(store, config, args.operator)
    zone, window = display_zone(None, False), timedelta(minutes=args.window)
    views = [(bed.config.id, bed.config.label,
              DashboardConfig(store, bed.session, zone, window, bed.replay, operator=args.operator, auth=auth))
             for bed in site.beds]
    return serve_app(args, create_site_app(store, views, zone, auth, args.operator, config.name, site.notices),
                     auth, listener, site)


def _serve_remote(args: argparse.Namespace, store: Store, config: SiteConfig, auth: AuthSettings,
                  listener: int) -> int:
    """Serve the views of a site whose beds chair computers acquire: each bed's session is the one the database says
    it is on now, and its chair computer's heartbeat says whether it is live (`web/site/remote.py`)."""
    from monitor.web.app import DashboardConfig, create_site_app
    from monitor.web.site.remote import RemoteBeds

    remote = RemoteBeds(store, config.beds)
    zone, window = display_zone(None, False), timedelta(minutes=args.window)
    views = [(bed.id, bed.label, DashboardConfig(store, partial(remote.session, bed.id), zone, window,
                                                 operator=args.operator, auth=auth))
             for bed in config.beds]
    beds = f"{len(views)} bed{'' if len(views) == 1 else 's'}"
    print(f"serving the views of {beds} that chair computers acquire (--no-acquire)", flush=True)
    return serve_app(args, create_site_app(store, views, zone, auth, args.operator, config.name, remote=remote),
                     auth, listener)
