"""The `vigil` command. Every failure is one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.files.csv_reader import CsvError, RecordedSession, describe_bad_rows
from adapters.files.recording import read_recording as read_recording_file
from monitor.alarms.engine import PRIORITIES
from monitor.cli import check as checking
from monitor.cli.options import (
    Parser,
    UsageError,
    bind_listener,
    common_db,
    common_operator,
    common_server,
    common_session,
    input_file,
    open_store,
    resolve_limits,
    serve,
    server_auth,
    session_limits,
    session_summary,
    speed_arg,
)
from monitor.cli.sessions import add_session_commands
from monitor.cli.site import add_site_commands
from monitor.cli.users import add_user_commands
from monitor.config import operator_name
from monitor.errors import first_line
from monitor.limits.model import PRESETS, Limits, LimitsError
from monitor.session.types import recorded_type

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only for commands that use it: `check` starts faster
    from monitor.runtime.replay import ReplayRunner
    from monitor.store import Store



def _start_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--start must be an ISO 8601 time, got {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs an offset or Z (local time is never guessed)")
    return value


def build_parser(command: str | None = None) -> Parser:
    """The `vigil` parser; the device commands only if `command` may be one (their options load every protocol
    and emulator: ~45 ms of every other command's start, and `vigil check` of a day aims at 1 s)."""
    parser = Parser(prog="vigil", description="Vigil: in-session vital-sign monitor for ketamine and "
                    "esketamine sessions. Decision support only, not a medical device.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    def common_csv(p: argparse.ArgumentParser) -> None:
        p.add_argument("--skip-bad-rows", action="store_true", help="skip bad rows (reported) instead of refusing")
        p.add_argument("--tz", help="IANA zone for timestamps without an offset, e.g. Europe/Berlin")
        p.add_argument("--start", type=_start_time, help="place relative-seconds times at this ISO time")

    replay = sub.add_parser("replay", help="replay a recorded session (CSV or .vital) into the store and the dashboard")
    replay.set_defaults(handler=cmd_replay)
    replay.add_argument("file", type=Path, help="recorded session: CSV (wide or long form) or VitalRecorder .vital")
    replay.add_argument("--speed", type=speed_arg, default="1", help="1 to 1000, or max (default 1)")
    common_session(replay, "from the file's dose events: device_1 esketamine, dose_start iv-ketamine, else other")
    replay.add_argument("--session", help="session name (default: the file name)")
    replay.add_argument("--bed", default="bed-1", help="bed label shown on screen")
    replay.add_argument("--headless", action="store_true", help="store only, no dashboard; exits when done")
    common_csv(replay)
    common_db(replay)
    common_server(replay)
    common_operator(replay)

    check = sub.add_parser("check", help="evaluate a recorded session against alarm limits, headless (§5)")
    check.set_defaults(handler=cmd_check)
    check.add_argument("file", type=Path, nargs="+", metavar="FILE|DIR",
                       help="recorded session: CSV (wide or long form) or VitalRecorder .vital; several, or a folder "
                            "of them (its *.csv and *.vital): a summary line per file, then its episodes")
    check.add_argument("--limits", required=True, metavar="T.toml",
                       help=f"limits TOML file, or a preset name ({', '.join(PRESETS)})")
    check.add_argument("--json", action="store_true", help="one JSON object per episode per line")
    check.add_argument("--fail-on", choices=PRIORITIES, metavar="PRIORITY",
                       help="exit 1 if any episode reaches this priority (low, medium, high); with several files, "
                            "exit 2 if any could not be checked (the others still are)")
    common_csv(check)

    imp = sub.add_parser("import", help="import a recorded session (CSV or .vital) into the store (no dashboard)")
    imp.set_defaults(handler=cmd_import)
    imp.add_argument("file", type=Path, help="recorded session: CSV (wide or long form) or VitalRecorder .vital")
    imp.add_argument("--session", help="session name (default: the file name); the same recording imported "
                                        "again, under any name, adds nothing")
    common_csv(imp)
    common_db(imp)

    dash = sub.add_parser("dashboard", help="serve the bed view of a session in the store (e.g. of vigil acquire)")
    dash.set_defaults(handler=cmd_dashboard)
    dash.add_argument("--session", type=int, metavar="ID", help="session id (default: the newest session)")
    common_db(dash)
    common_server(dash)
    common_operator(dash)
    add_session_commands(sub)
    add_site_commands(sub)
    add_user_commands(sub)
    if command not in sub.choices:
        from monitor.cli.devices import add_device_commands

        add_device_commands(sub)
    return parser


def read_recording(args: argparse.Namespace, path: Path | None = None, label: str = "") -> RecordedSession:
    """Read the recording (CSV or .vital) named on the command line (or `path`); bad rows become one-line errors or
    reports, warnings start with `label` (the file's name when `vigil check` reads several)."""
    path = path or args.file
    recording = read_recording_file(input_file(path), skip_bad_rows=args.skip_bad_rows, tz=args.tz,
                                    start=args.start)
    for warning in recording.warnings:
        print(f"vigil: warning: {label}{warning}", file=sys.stderr)
    if recording.skipped:
        print(f"vigil: {label}skipped {describe_bad_rows(recording.skipped)}", file=sys.stderr)
    if not recording.readings and not recording.events:
        raise UsageError(f"{path} holds no readings or events")
    return recording


def cmd_check(args: argparse.Namespace) -> int:
    return checking.cmd_check(args, read_recording)


def cmd_import(args: argparse.Namespace) -> int:
    from monitor.session.importing import import_recording

    recording = read_recording(args)
    store = open_store(args)
    name = args.session or args.file.name
    result = import_recording(store, recording, name, str(args.file.resolve()), operator_name())
    held = f"session {result.session_id}: {result.readings} readings, {result.events} events"
    if result.new_session:
        print(f"{held} — imported as a new session")
    elif result.added_readings or result.added_events:
        print(f"{held} — this recording was partly imported before; added {result.added_readings} readings and "
              f"{result.added_events} events")
    else:
        print(f"{held} — this recording was imported before; nothing added")
    return 0


def _replay_bed(args: argparse.Namespace, store: Store, recording: RecordedSession, name: str, bed: str,
               limits: Limits, stype: str) -> ReplayRunner:
    """The bed replaying the file named on the command line (`monitor/runtime/bed.py` opens it)."""
    from monitor.runtime import bed as beds

    setup = beds.BedSetup(name, bed, str(args.file.resolve()), stype, limits, args.operator,
                          patient_label=args.patient)
    return beds.open_replay(store, setup, recording, args.speed)


def cmd_replay(args: argparse.Namespace) -> int:
    if args.limits:
        resolve_limits(args.limits)  # refuse a bad limits file before reading a long recording
    recording = read_recording(args)  # a bad file is refused before the database is opened
    store = open_store(args)
    stype = args.type or recorded_type(recording.events)
    limits = session_limits(args, stype)
    # Sign-in, HTTPS and the HTTP port are checked before the replay makes a session: a refusal writes nothing.
    auth = None if args.headless else server_auth(args, store)
    listener = None if args.headless else bind_listener(args.host, args.http_port)
    runner = _replay_bed(args, store, recording, args.session or args.file.name, args.bed, limits, stype)
    if args.headless:
        logging.getLogger("monitor.runtime.replay").setLevel(logging.CRITICAL)  # failure is reported below, once
        runner.start()
        runner.wait()
        runner.stop()
        if runner.error is not None:
            raise UsageError(f"replay failed: {first_line(runner.error)}")
        print(session_summary(store, runner.session_id))
        return 0
    return serve(args, store, lambda: runner.session_id, recording.relative_time, runner, replay=runner, auth=auth,
                 listener=listener)


def cmd_dashboard(args: argparse.Namespace) -> int:
    store = open_store(args, create=False)
    session_id = args.session or store.sessions.latest()
    if session_id is None:
        raise UsageError("the store holds no session yet")
    try:
        info = store.sessions.info(session_id)
    except KeyError:
        raise UsageError(f"no session {session_id} in the store") from None
    return serve(args, store, lambda: session_id, info.relative_time)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops as cleanly as Ctrl+C
    logging.basicConfig(level=logging.WARNING, format="vigil: %(levelname)s: %(message)s")
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`vigil check … | head`): stop quietly, as `yes | head` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the interpreter's last flush is quiet
        return 128 + signal.SIGPIPE
    except (UsageError, CsvError, LimitsError, FileNotFoundError) as exc:
        print(f"vigil {args.command}: error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"vigil {args.command}: error: {exc.strerror or exc}", file=sys.stderr)
    except Exception as exc:  # the promise: one line, never a traceback
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        print(f"vigil {args.command}: error: {type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
