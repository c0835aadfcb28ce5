"""What every `vigil` command shares: one-line usage errors, the parser, the store, limits and serving."""

from __future__ import annotations

import argparse
import logging
import socket
import threading
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol
from zoneinfo import ZoneInfo

from monitor.config import default_db, operator_name
from monitor.errors import first_line
from monitor.limits import PRESETS, Limits, load_limits, load_preset
from monitor.session.types import SESSION_TYPES, session_type
from monitor.timeutil import local_zone

DEFAULT_PRESET = "iv-ketamine"

if TYPE_CHECKING:  # the store (SQLAlchemy) and Dash load only for commands that use them
    from werkzeug.serving import BaseWSGIServer

    from monitor.acquisition import ReplayRunner
    from monitor.store import Store


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def zone_arg(text: str) -> tzinfo:
    try:
        return ZoneInfo(text)
    except (KeyError, ValueError, OSError):
        raise argparse.ArgumentTypeError(f"unknown time zone {text!r} (an IANA name such as Europe/Berlin)") from None


def display_zone(zone: tzinfo | None, relative_time: bool) -> tzinfo:
    """Where times are shown: UTC for a relative-time session (its times read as elapsed), else the zone
    asked for or this machine's."""
    if relative_time:
        return UTC
    return zone or local_zone()


def common_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None,
                   help="SQLite file or database URL (default: vigil.db in your data directory, or $VIGIL_DB)")


def common_server(p: argparse.ArgumentParser, port_flag: str = "--port") -> None:
    """`port_flag`: `vigil monitor` names the serial port `--port` (architecture §6), so its HTTP port
    is `--http-port`."""
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument(port_flag, dest="http_port", type=int, default=8050, help="port to serve on (default 8050)")
    p.add_argument("--window", type=float, default=60, help="trend window in minutes (default 60)")


def common_operator(p: argparse.ArgumentParser) -> None:
    p.add_argument("--operator", default=operator_name(),
                   help="name recorded in the audit trail for changes made here (default: $VIGIL_OPERATOR "
                        "or your login name)")


def common_session(p: argparse.ArgumentParser, type_default: str) -> None:
    """Set-up of the treatment session from the command line (the bed view can change it later)."""
    p.add_argument("--type", choices=tuple(SESSION_TYPES), metavar="TYPE",
                   help=f"session type: {', '.join(SESSION_TYPES)} (default: {type_default}); sets the "
                        "checkpoints, the discharge guard and the default limits preset")
    p.add_argument("--patient", default="", metavar="LABEL",
                   help="patient label: an identifier such as a chart number, not a name")
    p.add_argument("--limits", help="limits TOML file or preset name (default: the session type's preset, "
                                    f"else {DEFAULT_PRESET})")


def session_limits(args: argparse.Namespace, type_name: str) -> Limits:
    """`--limits` if given, else the preset of the session's type."""
    return resolve_limits(args.limits or session_type(type_name).preset or DEFAULT_PRESET)


def resolve_limits(text: str) -> Limits:
    """A limits file, or a preset by name when no such file exists."""
    path = Path(text)
    if text in PRESETS and not path.exists():
        return load_preset(text)
    if not path.is_file():
        raise UsageError(f"no such limits file: {text} (or name a preset: {', '.join(PRESETS)})")
    return load_limits(path)


def open_store(args: argparse.Namespace) -> Store:
    from monitor.store import Store

    return Store(args.db or default_db())


class Background(Protocol):
    """What runs beside the dashboard: a replay or a live acquisition; `error` is set if it failed."""

    error: BaseException | None

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


def bind_listener(host: str, port: int, flag: str = "--port") -> int:
    """Bind and listen ourselves, so a busy port is our one-line error, not werkzeug's exit."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another with {flag}") from None
    sock.set_inheritable(True)
    return sock.detach()


def serve(
    args: argparse.Namespace, store: Store, session_id: int, relative_time: bool,
    background: Background | None = None, replay: ReplayRunner | None = None, listener: int | None = None,
) -> int:
    """Bind the port first (a busy port is a one-line error), then start the background work and serve.

    `replay` gets the dashboard's replay controls; a live acquisition has none. If the background work
    fails, the server stops and the command fails with its reason: a bed view must never go on showing
    numbers that are no longer acquired.
    """
    from werkzeug.serving import make_server  # Dash and its server load only when serving

    from monitor.dashboard.app import DashboardConfig, create_app

    zone = display_zone(None, relative_time)
    app = create_app(DashboardConfig(store, session_id, zone, timedelta(minutes=args.window), replay,
                                     operator=args.operator))
    if listener is None:
        listener = bind_listener(args.host, args.http_port)
    server = make_server(args.host, args.http_port, app.server, threaded=True, fd=listener)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    finished = threading.Event()
    if background is not None:
        background.start()
        threading.Thread(target=_shut_down_on_failure, args=(background, server, finished), daemon=True).start()
    print(f"Vigil dashboard: http://{args.host}:{server.port}/  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        finished.set()
        if background is not None:
            background.stop()
        server.server_close()
    if background is not None and background.error is not None:
        raise UsageError(f"acquisition failed, dashboard stopped: {first_line(background.error)}")
    return 0


def _shut_down_on_failure(background: Background, server: BaseWSGIServer, finished: threading.Event) -> None:
    while not finished.wait(0.5):
        if background.error is not None:
            server.shutdown()
            return
