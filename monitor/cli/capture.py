"""`vigil record` and `vigil decode`: a monitor's data into a recorded-session CSV, without the store.

`record` captures a live link through a crash-safe journal; `decode` turns a raw byte capture (`--raw-out`)
into the same CSV. Either writes its output whole or not at all: an existing file is never damaged.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.model.reading import Event, Reading, split_items
from adapters.protocols import ProtocolSpec
from adapters.protocols.base import GuardedDecoder
from monitor.cli.link import chosen_protocol, describe, new_decoder, no_data, open_link, require_device_zone, wait
from monitor.cli.options import UsageError, input_file

if TYPE_CHECKING:
    from adapters.files.csv_recorder import CsvRecorder
    from adapters.transport.serial_link import SerialLink

READ_CHUNK = 1 << 16


def cmd_record(args: argparse.Namespace) -> int:
    from adapters.files.csv_recorder import CsvRecorder, JournalExists, journal_path

    if not args.out.parent.is_dir():
        raise UsageError(f"cannot write {args.out}: no such directory {args.out.parent}")
    if args.recover:
        return _recover(args.out)
    if args.port is None or args.protocol is None:
        raise UsageError("record needs --port and --protocol (or --recover)")
    try:  # the journal first: whatever fails after this, an existing --out file is untouched
        recorder = CsvRecorder(args.out)
    except JournalExists as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {journal_path(args.out)}: {exc.strerror or exc}") from None
    try:
        link, spec = _record(args, recorder)
    except BaseException as exc:
        if not recorder.rows:
            recorder.discard()
            raise
        with contextlib.suppress(OSError):  # after a failed write its buffer cannot be written either
            recorder.close()
        if isinstance(exc, OSError):  # the disk filled up, or the journal could not be written
            raise UsageError(f"cannot write {recorder.journal}: {exc.strerror or exc}; what was received is "
                             f"kept there (`vigil record --recover --out {args.out}` finishes it)") from None
        raise
    if recorder.readings == 0:
        recorder.discard()
        raise no_data(link, spec)
    rows, _ = _finish(recorder.finish, args.out)
    print(f"recorded {recorder.readings} readings in {rows} rows to {args.out}")
    return 0


def _recover(out: Path) -> int:
    from adapters.files.csv_recorder import finish_journal, journal_path

    journal = journal_path(out)
    if not journal.is_file():
        raise UsageError(f"no interrupted capture to recover: {journal} does not exist")
    rows, cut = _finish(lambda: finish_journal(journal, out), out)
    cut_note = " (the last row, cut short by the interruption, was left out)" * bool(cut)
    print(f"recovered {rows} rows from {journal} to {out}{cut_note}")
    return 0


def _finish(finish: Callable[[], tuple[int, int]], out: Path) -> tuple[int, int]:
    """Run a journal's finish; a failure leaves the journal, and says so."""
    from adapters.files.csv_recorder import journal_path

    try:
        return finish()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write {out}: {getattr(exc, 'strerror', None) or exc}; the capture is kept in "
                         f"{journal_path(out)}") from None


def _record(args: argparse.Namespace, recorder: CsvRecorder) -> tuple[SerialLink, ProtocolSpec]:
    """Feed the link into the recorder until the duration, Ctrl+C, or a write failure (raised here)."""
    link, spec = open_link(args)
    lock = threading.Lock()
    stop = threading.Event()
    failure: list[OSError] = []

    def sink(items: list[Reading | Event]) -> None:
        try:
            with lock:
                recorder.add(items)
        except OSError as exc:  # reported once, from the main thread
            failure.append(exc)
            stop.set()

    thread = threading.Thread(target=link.run, args=(sink, stop), name="record", daemon=True)
    print(f"recording {describe(link, spec)} to {args.out}; Ctrl+C to stop", flush=True)
    thread.start()
    try:
        wait(args.duration, thread.is_alive)
    finally:
        stop.set()
        thread.join(5)
        link.close()
    if failure:
        raise failure[0]
    return link, spec


def cmd_decode(args: argparse.Namespace) -> int:
    from adapters.files.csv_writer import write_session_csv, write_wide_csv

    spec = chosen_protocol(args)
    require_device_zone(spec, args, "vigil decode")
    decoder = GuardedDecoder(new_decoder(spec, args), str(args.file))  # a decoder bug costs a chunk, as live
    input_file(args.file)
    if args.out is not None and not args.out.parent.is_dir():
        raise UsageError(f"cannot write {args.out}: no such directory {args.out.parent}")
    try:
        raw = args.file.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    items: list[Reading | Event] = []
    with raw:
        while chunk := raw.read(READ_CHUNK):
            items += decoder.feed(chunk)
    readings, events = split_items(items)
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(decoder.stats.items()))
    print(f"decoded {args.file}: {counts}", file=sys.stderr)
    if not readings:
        hints = "".join(f" ({text})" for key, text in spec.empty_hints.items() if decoder.stats[key])
        raise UsageError(f"no {spec.name} readings in {args.file}: is it a raw capture of this protocol?{hints}")
    if args.out is None:
        write_wide_csv(sys.stdout, readings, events)
        return 0
    try:  # whole or not at all: an existing file is replaced only by a complete one
        write_session_csv(args.out, readings, events)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {len(readings)} readings to {args.out}", file=sys.stderr)
    return 0
