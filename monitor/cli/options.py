"""What every `vigil` command shares: one-line usage errors, the parser, the store, limits and serving."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import stat
import threading
from collections.abc import Callable
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol, TypeVar

from adapters.model.zones import parse_zone
from monitor.config import default_db, operator_name
from monitor.errors import first_line
from monitor.limits.model import DEFAULT_PRESET, PRESETS, Limits, load_limits, load_preset
from monitor.session.types import SESSION_TYPES, session_type
from monitor.timeutil import local_zone

T = TypeVar("T")

if TYPE_CHECKING:  # the store (SQLAlchemy) and Dash load only for commands that use them
    from flask import Flask
    from werkzeug.serving import BaseWSGIServer

    from monitor.runtime.replay import ReplayRunner
    from monitor.store import Store
    from monitor.web.auth import AuthSettings


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit 2."""


def input_file(path: Path, what: str = "file", hint: str = "") -> Path:
    """`path` if it is a file this process can read; else a one-line UsageError saying why not: it does not
    exist, it is a directory (or a FIFO, a device), or it cannot be read. Every command checks its input
    files here, before any work, so all say the same thing. `hint` follows the "no such" message."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"no such {what}: {path}{hint}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{path} is a directory, not a {what}")
    if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
        raise UsageError(f"{path} is not a regular file (a {what} is needed)")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    return path


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def argument_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """A parser that raises ValueError saying what is allowed, as argparse wants it: that message becomes
    the one-line usage error (argparse would print only "invalid value")."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


zone_arg = argument_type(parse_zone)


def display_zone(zone: tzinfo | None, relative_time: bool) -> tzinfo:
    """Where times are shown: UTC for a relative-time session (its times read as elapsed), else the zone
    asked for or this machine's."""
    if relative_time:
        return UTC
    return zone or local_zone()


def common_db(p: argparse.ArgumentParser) -> None:
    # A string, not a Path: Path("postgresql://h/db") is "postgresql:/h/db", which a URL check cannot see.
    p.add_argument("--db", default=None,
                   help="SQLite file or postgresql://user@host/database (default: vigil.db in your data "
                        "directory, or $VIGIL_DB)")


def common_server(p: argparse.ArgumentParser, port_flag: str = "--port", sign_in: bool = True) -> None:
    """`port_flag`: `vigil monitor` names the serial port `--port` (architecture §6), so its HTTP port
    is `--http-port`. `sign_in` False: the demo, which never asks anyone to sign in."""
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this computer only)")
    p.add_argument(port_flag, dest="http_port", type=int, default=8050, help="port to serve on (default 8050)")
    p.add_argument("--window", type=float, default=60, help="trend window in minutes (default 60)")
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve HTTPS with this certificate (chain)")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's private key")
    if sign_in:
        p.add_argument("--no-auth", action="store_true",
                       help="no sign-in; everyone at this computer may do everything (only with a loopback --host)")
        p.add_argument("--idle-timeout", type=_minutes, default=15, metavar="MIN",
                       help="sign a user out after MIN minutes without an action (default 15; the live view "
                            "keeps running)")


def speed_arg(text: str) -> str:
    """A replay speed as given (1 to 1000, or max), checked."""
    from adapters.files.replay import parse_speed

    try:
        parse_speed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 24 * 60:
        raise argparse.ArgumentTypeError(f"--idle-timeout must be minutes from 1 to 1440, got {text!r}")
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` only ever reaches this computer: every address it names is a loopback address."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


def server_auth(args: argparse.Namespace, store: Store, demo_label: str | None = None) -> AuthSettings:
    """Sign-in for this server, or a one-line refusal: off only on a loopback address, HTTPS off the
    machine, and someone able to sign in when it is on. `demo_label`: the demo, never signing in."""
    from monitor.auth.accounts import Accounts
    from monitor.web.auth import AuthSettings

    tls = args.tls_cert is not None or args.tls_key is not None
    if tls and not (args.tls_cert and args.tls_key):
        raise UsageError("HTTPS needs both --tls-cert and --tls-key")
    for path in (args.tls_cert, args.tls_key):
        if path is not None:
            input_file(path)
    required = demo_label is None and not args.no_auth
    loopback = is_loopback(args.host)
    if not required and not loopback:
        what = "the demo has no sign-in and" if demo_label else "--no-auth"
        raise UsageError(f"refusing to serve on {args.host} without sign-in: {what} is only for this computer "
                         "(--host 127.0.0.1); to serve the ward, add users with `vigil user add` and serve with "
                         "sign-in (replay, monitor or dashboard without --no-auth)")
    if not loopback and not tls:
        raise UsageError(f"refusing to serve on {args.host} over plain HTTP: passwords would cross the network "
                         "unencrypted; give --tls-cert and --tls-key")
    if required and not Accounts(store).can_sign_in():
        raise UsageError("no one can sign in yet: add a user first, e.g. `vigil user add NAME --role clinician` "
                         "(same --db), or use --no-auth on this computer only")
    if not required:
        return AuthSettings(required=False, https=tls, no_login_label=demo_label or AuthSettings.no_login_label)
    return AuthSettings(required=True, idle=timedelta(minutes=args.idle_timeout), https=tls)


def common_operator(p: argparse.ArgumentParser) -> None:
    p.add_argument("--operator", default=operator_name(),
                   help="name the audit trail gives to changes made without a sign-in: on a --no-auth or demo "
                        "dashboard, and the limits this command sets (default: $VIGIL_OPERATOR or your login name)")


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
    return load_limits(input_file(path, "limits file", f" (or name a preset: {', '.join(PRESETS)})"))


def open_store(args: argparse.Namespace, create: bool = True) -> Store:
    """The store named by `--db` (else the default). `create` False for commands that only read: they
    refuse a database that does not exist rather than leave an empty one behind."""
    from monitor.store import BadDatabaseURL, DatabaseTooNew, NoDatabase, Store, Unreachable

    try:
        return Store(args.db or default_db(), create=create)
    except (NoDatabase, BadDatabaseURL, DatabaseTooNew, Unreachable) as exc:
        raise UsageError(str(exc)) from None



def session_summary(store: Store, session_id: int) -> str:
    """The line `replay --headless` and `acquire` end with: what the session now holds."""
    n_readings, n_events = store.samples.counts(session_id)
    n_alarms = len(store.alarms.since(session_id))
    return f"session {session_id}: {n_readings} readings, {n_events} events, {n_alarms} alarms"


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
    args: argparse.Namespace, store: Store, session: Callable[[], int], relative_time: bool,
    background: Background | None = None, replay: ReplayRunner | None = None, listener: int | None = None,
    auth: AuthSettings | None = None,
) -> int:
    """Serve one bed's view (`session` names its session on each page load) beside its background work.

    `auth`: sign-in as `server_auth` decided it (a caller that binds early decides first), else decided here.
    `replay` gets the dashboard's replay controls; a live acquisition has none.
    """
    from monitor.web.app import DashboardConfig, create_app  # Dash loads only when serving

    if auth is None:
        auth = server_auth(args, store)
    zone = display_zone(None, relative_time)
    app = create_app(DashboardConfig(store, session, zone, timedelta(minutes=args.window), replay,
                                     operator=args.operator, auth=auth))
    return serve_app(args, app.server, auth, listener, background)


def serve_app(args: argparse.Namespace, app: Flask, auth: AuthSettings, listener: int | None = None,
              background: Background | None = None) -> int:
    """Bind the port first (a busy port is a one-line error), then start the background work and serve `app`
    until Ctrl+C or SIGTERM, which stop the background work too.

    If the background work fails, the server stops and the command fails with its reason: a bed view must
    never go on showing numbers that are no longer acquired.
    """
    from werkzeug.serving import make_server

    if listener is None:
        listener = bind_listener(args.host, args.http_port)
    ssl_context = (str(args.tls_cert), str(args.tls_key)) if auth.https else None
    try:
        server = make_server(args.host, args.http_port, app, threaded=True, fd=listener,
                             ssl_context=ssl_context)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a bad certificate or key
        raise UsageError(f"cannot serve HTTPS with {args.tls_cert} and {args.tls_key}: {first_line(exc)}") from None
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    finished = threading.Event()
    if background is not None:
        background.start()
        threading.Thread(target=_shut_down_on_failure, args=(background, server, finished), daemon=True).start()
    scheme = "https" if auth.https else "http"
    login = "sign-in required" if auth.required else auth.no_login_label
    print(f"Vigil dashboard: {scheme}://{args.host}:{server.port}/  ({login}; Ctrl+C to stop)", flush=True)
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
