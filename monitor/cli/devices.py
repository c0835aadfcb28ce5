"""The `vigil` commands that talk to bedside monitors: monitor, acquire, dashboard, record, decode, simulate.

A port is a pyserial URL (a device path, COM3, socket://, rfc2217://, loop://); the line settings
default to what the protocol's monitors use and each can be overridden. Failures a user can fix (a
port that does not open, an unknown protocol, no data at all) are one line saying what to check.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.model.reading import Event, Reading
from adapters.protocols import PROTOCOLS, ProtocolSpec, protocol
from adapters.protocols.base import Decoder, GuardedDecoder
from adapters.protocols.ge_s5.decoder import DEFAULT_INTERVAL_S
from monitor.cli.options import (
    UsageError,
    bind_listener,
    common_db,
    common_operator,
    common_server,
    common_session,
    input_file,
    open_store,
    serve,
    server_auth,
    session_limits,
    zone_arg,
)
from monitor.errors import first_line
from monitor.limits.model import Limits

if TYPE_CHECKING:
    from adapters.files.csv_recorder import CsvRecorder
    from adapters.transport.serial_link import SerialLink
    from monitor.runtime.live import LiveRunner
    from monitor.store import Store

DEFAULT_WATCHDOG_S = 10.0
READ_CHUNK = 1 << 16


def _interval(text: str) -> int:
    """GE's tx_ival is a signed 16-bit count of seconds; 0 and -1 mean stop and once, not a period."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None
    if not 1 <= value <= 32767:
        raise argparse.ArgumentTypeError(f"must be 1 to 32767 seconds, got {text}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _protocol_option(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--protocol", required=required, metavar="NAME",
                   help=f"device protocol: {', '.join(f'{n} ({s.description})' for n, s in PROTOCOLS.items())}")


def _link_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """`required` False: `vigil record --recover` needs no port; the command checks for itself."""
    p.add_argument("--port", required=required, metavar="URL",
                   help="serial port: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://host:port or loop://")
    _protocol_option(p, required)
    line = p.add_argument_group(
        "line settings (default: the protocol's; " + ", ".join(f"{n} {s.line.describe()}" for n, s in PROTOCOLS.items())
        + ")"
    )
    line.add_argument("--baud", type=int, help="baud rate")
    line.add_argument("--bytesize", type=int, choices=(5, 6, 7, 8))
    line.add_argument("--parity", choices=("N", "E", "O", "M", "S"))
    line.add_argument("--stopbits", type=float, choices=(1, 1.5, 2))
    line.add_argument("--rtscts", action=argparse.BooleanOptionalAction, default=None,
                      help="RTS/CTS hardware handshake")
    p.add_argument("--interval", type=_interval, default=DEFAULT_INTERVAL_S, metavar="S",
                   help=f"ge-s5: request displayed values every S seconds (default {DEFAULT_INTERVAL_S}; "
                        "the spec asks for at least 5, CARESCAPE monitors also honour 1)")
    p.add_argument("--watchdog", type=_positive, default=DEFAULT_WATCHDOG_S, metavar="S",
                   help=f"no valid data for S seconds = link lost, then reconnect (default {DEFAULT_WATCHDOG_S:g})")
    p.add_argument("--raw-out", type=Path, metavar="FILE",
                   help="append every received byte to FILE (for field debugging; read back with vigil decode)")
    p.add_argument("--clock", choices=("host", "device"), default="host",
                   help="time readings by this computer's clock (default) or the monitor's own clock")
    _device_options(p)


def _device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="name of the device in the record (default: the protocol name)")
    p.add_argument("--tz", type=zone_arg, metavar="ZONE",
                   help="hl7-mllp: the zone of device times that carry no UTC offset (never guessed; such times "
                        "are skipped and counted without it)")


def _session_options(p: argparse.ArgumentParser) -> None:
    common_session(p, "other: set it up on screen")
    p.add_argument("--session", help="session name (default: protocol and port)")
    p.add_argument("--bed", default="bed-1", help="bed label shown on screen")
    common_db(p)
    common_operator(p)


def add_device_commands(sub: Any) -> None:
    """Add the device commands, each with its handler, to the `vigil` subparsers."""
    mon = sub.add_parser("monitor", help="acquire from a bedside monitor and show the bed view")
    mon.set_defaults(handler=cmd_monitor)
    _link_options(mon)
    _session_options(mon)
    common_server(mon, port_flag="--http-port")

    acq = sub.add_parser("acquire", help="acquire from a bedside monitor into the store, no dashboard")
    acq.set_defaults(handler=cmd_acquire)
    _link_options(acq)
    _session_options(acq)
    acq.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: Ctrl+C)")

    rec = sub.add_parser("record", help="capture a bedside monitor to a recorded-session CSV, headless")
    rec.set_defaults(handler=cmd_record)
    _link_options(rec, required=False)
    rec.add_argument("--out", type=Path, required=True, metavar="FILE.csv",
                     help="CSV to write (architecture §4); written as FILE.csv.part while recording, which a "
                          "crash leaves complete up to the last data received")
    rec.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: Ctrl+C)")
    rec.add_argument("--recover", action="store_true",
                     help="finish the capture a crash left in FILE.csv.part into FILE.csv (no port needed)")

    dec = sub.add_parser("decode", help="turn a raw byte capture (--raw-out) into a recorded-session CSV")
    dec.set_defaults(handler=cmd_decode)
    dec.add_argument("file", type=Path, metavar="FILE.raw")
    _protocol_option(dec)
    dec.add_argument("--out", type=Path, metavar="FILE.csv", help="CSV to write (default: standard output)")
    _device_options(dec)

    sim = sub.add_parser("simulate", help="emulate a bedside monitor on a pseudo-terminal; prints its path")
    sim.set_defaults(handler=cmd_simulate)
    _protocol_option(sim)
    sim.add_argument("--scenario", default="iv-ketamine", metavar="NAME|FILE.csv",
                     help="a built-in scenario (iv-ketamine, esketamine, hypertensive, artefacts) or a recorded "
                          "session CSV (default iv-ketamine)")
    sim.add_argument("--speed", type=_positive, default=1.0, help="scenario seconds per wall second (default 1)")
    sim.add_argument("--faults", metavar="SPEC",
                     help="inject faults, e.g. corrupt=0.01,drop=0.02,unplug=600+30,silence=900+20,seed=7 "
                          "(probabilities per frame; AT+FOR in scenario seconds)")
    sim.add_argument("--link", type=Path, metavar="PATH",
                     help="keep a symlink at PATH to the current pty (it changes after an unplug fault)")


# -- building the link --


def _spec(args: argparse.Namespace) -> ProtocolSpec:
    try:
        return protocol(args.protocol)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _decoder(spec: ProtocolSpec, args: argparse.Namespace) -> Decoder:
    return spec.decoder(args.source or spec.name, getattr(args, "interval", DEFAULT_INTERVAL_S), args.tz)


def open_link(args: argparse.Namespace) -> tuple[SerialLink, ProtocolSpec]:
    """The serial link the options describe, opened: a port that cannot be opened fails here, once."""
    from adapters.transport.serial_link import LinkConfig, LinkError, SerialLink

    spec = _spec(args)
    if spec.name == "ge-s5" and args.interval >= args.watchdog:
        raise UsageError(f"--watchdog {args.watchdog:g} must be longer than --interval {args.interval}")
    overrides = {"baudrate": args.baud, "bytesize": args.bytesize, "parity": args.parity,
                 "stopbits": args.stopbits, "rtscts": args.rtscts}
    settings = replace(spec.line, **{k: v for k, v in overrides.items() if v is not None})
    config = LinkConfig(args.port, settings, args.source or spec.name, args.watchdog, args.raw_out, args.clock,
                        setup_hint=spec.setup_hint)
    link = SerialLink(config, _decoder(spec, args))
    try:
        link.open()
    except LinkError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # pyserial's URL handlers raise whatever they meet
        raise UsageError(f"cannot open {args.port}: {first_line(exc)} — check the port or URL") from None
    return link, spec


def _prepare_session(args: argparse.Namespace) -> tuple[Store, Limits]:
    """What can fail before the port is touched: the limits and the store."""
    return open_store(args), session_limits(args, args.type or "other")


def _live_runner(args: argparse.Namespace, store: Store, limits: Limits, link: SerialLink, spec: ProtocolSpec
                 ) -> LiveRunner:
    from monitor.alarms.live import LiveAlarms
    from monitor.runtime.live import LiveRunner

    name = args.session or f"{spec.name} on {args.port}"
    session_id = store.sessions.create(name, "live", bed=args.bed, origin=args.port,
                                       session_type=args.type or "other", patient_label=args.patient, who=args.operator)
    # On the device's clock the session's first time is not known yet: the limits apply from the start.
    effective = datetime.now(UTC) if args.clock == "host" else datetime.fromtimestamp(0, UTC)
    store.limits.save(session_id, limits.to_dict(), effective, who=args.operator)
    alarms = LiveAlarms(store, session_id)
    return LiveRunner(store, session_id, link, alarms, device_clock=args.clock == "device")


def _no_data(link: SerialLink, spec: ProtocolSpec) -> UsageError:
    settings = link.config.settings.describe()
    return UsageError(f"no data from {link.config.url}: check the cable, the line settings ({settings}), "
                      f"--protocol, and {spec.setup_hint}")


def _describe(link: SerialLink, spec: ProtocolSpec) -> str:
    return f"{link.config.url} ({spec.name}, {link.config.settings.describe()})"


def _wait(duration: float | None, alive: Callable[[], bool]) -> None:
    """Block until the duration is over, Ctrl+C (the normal way to stop: not an error), or the work ended."""
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass


# -- commands --


def cmd_monitor(args: argparse.Namespace) -> int:
    store, limits = _prepare_session(args)
    auth = server_auth(args, store)  # refused, and a busy HTTP port fails, before the monitor is opened
    listener = bind_listener(args.host, args.http_port, "--http-port")
    link, spec = open_link(args)
    runner = _live_runner(args, store, limits, link, spec)
    print(f"session {runner.session_id}: acquiring from {_describe(link, spec)}", flush=True)
    return serve(args, store, runner.session_id, False, runner, listener=listener, auth=auth)


def cmd_acquire(args: argparse.Namespace) -> int:
    store, limits = _prepare_session(args)
    link, spec = open_link(args)
    runner = _live_runner(args, store, limits, link, spec)
    print(f"session {runner.session_id}: acquiring from {_describe(link, spec)}; Ctrl+C to stop", flush=True)
    runner.start()
    try:
        _wait(args.duration, lambda: runner.error is None)
    finally:
        runner.stop()
    n_readings, n_events = store.samples.counts(runner.session_id)
    n_alarms = len(store.alarms.since(runner.session_id))
    print(f"session {runner.session_id}: {n_readings} readings, {n_events} events, {n_alarms} alarms")
    if runner.error is not None:
        raise UsageError(f"acquisition failed: {first_line(runner.error)}")
    if n_readings == 0:
        raise _no_data(link, spec)
    return 0


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
        raise _no_data(link, spec)
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
    print(f"recording {_describe(link, spec)} to {args.out}; Ctrl+C to stop", flush=True)
    thread.start()
    try:
        _wait(args.duration, thread.is_alive)
    finally:
        stop.set()
        thread.join(5)
        link.close()
    if failure:
        raise failure[0]
    return link, spec


def cmd_decode(args: argparse.Namespace) -> int:
    from adapters.files.csv_writer import write_session_csv, write_wide_csv

    spec = _spec(args)
    decoder = GuardedDecoder(_decoder(spec, args), str(args.file))  # a decoder bug costs a chunk, as live
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
    readings = [i for i in items if isinstance(i, Reading)]
    events = [i for i in items if isinstance(i, Event)]
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(decoder.stats.items()))
    print(f"decoded {args.file}: {counts}", file=sys.stderr)
    if not readings:
        hint = " (times without a UTC offset: name their zone with --tz)" * bool(decoder.stats["no_offset_times"])
        raise UsageError(f"no {spec.name} readings in {args.file}: is it a raw capture of this protocol?{hint}")
    if args.out is None:
        write_wide_csv(sys.stdout, readings, events)
        return 0
    try:  # whole or not at all: an existing file is replaced only by a complete one
        write_session_csv(args.out, readings, events)
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"wrote {len(readings)} readings to {args.out}", file=sys.stderr)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from adapters.simulation import simulate
    from adapters.simulation.physiology import SCENARIOS

    if args.scenario not in SCENARIOS:
        input_file(Path(args.scenario), "scenario file", f" (or name a built-in scenario: {', '.join(SCENARIOS)})")
    stop = threading.Event()

    def announce(path: str) -> None:
        print(f"{args.protocol} emulator on {path} (scenario {args.scenario}, {args.speed:g}×); Ctrl+C to stop",
              flush=True)

    try:
        simulate(args.protocol, args.scenario, args.speed, args.faults, args.link, stop, announce)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:  # the normal way to stop an emulator
        pass
    finally:
        stop.set()
    return 0
