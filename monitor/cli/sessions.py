"""`vigil report` and `vigil export`: a stored session as a record for the chart, or as a replayable CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli.options import UsageError, common_db, display_zone, open_store, zone_arg

if TYPE_CHECKING:  # the store (SQLAlchemy) loads only for the commands that use it: `vigil check` starts faster
    from monitor.store import Store


def add_session_commands(sub: Any) -> None:
    report = sub.add_parser("report", help="the session record for the chart, as PDF or HTML")
    report.set_defaults(handler=cmd_report)
    report.add_argument("session", metavar="SESSION", help="session id or name")
    report.add_argument("--out", type=Path, metavar="FILE.pdf|FILE.html",
                        help="where to write it; .html for HTML, else PDF (default: vigil-session-ID.pdf)")
    report.add_argument("--tz", type=zone_arg, metavar="ZONE",
                        help="IANA zone for the times shown (default: this machine's)")
    common_db(report)

    export = sub.add_parser("export", help="a stored session as the recorded-session CSV (replays as it was)")
    export.set_defaults(handler=cmd_export)
    export.add_argument("session", metavar="SESSION", help="session id or name")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="CSV to write")
    common_db(export)


def find_session(store: Store, text: str) -> int:
    """A session by id, or by name (the newest of that name)."""
    if text.isdigit():
        try:
            store.sessions.info(int(text))
        except KeyError:
            raise UsageError(f"no session {text} in the store") from None
        return int(text)
    session_id = store.sessions.find(text)
    if session_id is None:
        raise UsageError(f"no session named {text!r} in the store")
    return session_id


def _writable(path: Path) -> None:
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: no such directory {path.parent}")


def cmd_export(args: argparse.Namespace) -> int:
    from monitor.session.export import ExportError, export_session

    store = open_store(args, create=False)
    session_id = find_session(store, args.session)
    _writable(args.out)
    try:
        rows, readings, events = export_session(store, session_id, args.out)
    except ExportError as exc:
        raise UsageError(f"session {session_id}: {exc}") from None
    print(f"session {session_id}: {readings} readings, {events} events in {rows} rows to {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from adapters.files.atomic_file import replacing
    from monitor.report.html import render_html
    from monitor.report.pdf import pdf_bytes
    from monitor.session.record import session_record

    store = open_store(args, create=False)
    session_id = find_session(store, args.session)
    out = args.out or Path(f"vigil-session-{session_id}.pdf")
    _writable(out)
    record = session_record(store, session_id)
    zone = display_zone(args.tz, record.info.relative_time)
    html = out.suffix.lower() in (".html", ".htm")
    content = render_html(record, zone).encode() if html else pdf_bytes(record, zone)  # built before `out` is touched
    with replacing(out, "wb") as file:
        file.write(content)
    print(f"session {session_id}: record written to {out}")
    return 0
