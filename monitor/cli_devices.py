"""The `vigil` commands that talk to bedside monitors: monitor, acquire, dashboard, record, decode, simulate.

A port is a pyserial URL (a device path, COM3, socket://, rfc2217://, loop://); the line settings
default to what the protocol's monitors use and each can be overridden. Failures a user can fix (a
port that does not open, an unknown protocol, no data at all) are one line saying what to check.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.protocols import PROTOCOLS, ProtocolSpec, protocol
from adapters.protocols.base import Decoder
from adapters.protocols.ge_s5 import DEFAULT_INTERVAL_S
from adapters.reading import LINK_LOST, LINK_RESTORED, Event, Reading
from monitor.cli_common import (
    UsageError,
    common_db,
    common_operator,
    common_server,
    open_store,
    resolve_limits,
    serve,
)

if TYPE_CHECKING:
    from adapters.serial_link import SerialLink
    from monitor.live_runner import LiveRunner
    from monitor.store import Store

DEFAULT_WATCHDOG_S = 10.0
DEFAULT_LIMITS = "iv-ketamine"
READ_CHUNK = 1 << 16


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _protocol_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", required=True, metavar="NAME",
                   help=f"device protocol: {', '.join(f'{n} ({s.description})' for n, s in PROTOCOLS.items())}")


def _link_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, metavar="URL",
                   help="serial port: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://host:port or loop://")
    _protocol_option(p)
    line = p.add_argument_group("line settings (default: the protocol's; ge-s5 19200 8E1 RTS/CTS)")
    line.add_argument("--baud", type=int, help="baud rate")
    line.add_argument("--bytesize", type=int, choices=(5, 6, 7, 8))
    line.add_argument("--parity", choices=("N", "E", "O", "M", "S"))
    line.add_argument("--stopbits", type=float, choices=(1, 1.5, 2))
    line.add_argument("--rtscts", action=argparse.BooleanOptionalAction, default=None,
                      help="RTS/CTS hardware handshake")
    p.add_argument("--interval", type=int, default=DEFAULT_INTERVAL_S, metavar="S",
                   help=f"ge-s5: request displayed values every S seconds (default {DEFAULT_INTERVAL_S}; "
                        "the spec asks for at least 5, CARESCAPE monitors also honour 1)")
    p.add_argument("--watchdog", type=_positive, default=DEFAULT_WATCHDOG_S, metavar="S",
                   help=f"no valid data for S seconds = link lost, then reconnect (default {DEFAULT_WATCHDOG_S:g})")
    p.add_argument("--raw-out", type=Path, metavar="FILE",
                   help="append every received byte to FILE (for field debugging; read back with vigil decode)")
    p.add_argument("--clock", choices=("host", "device"), default="host",
                   help="time readings by this computer's clock (default) or the monitor's own clock")
    p.add_argument("--source", help="name of the device in the record (default: the protocol name)")


def _session_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limits", default=DEFAULT_LIMITS,
                   help=f"limits TOML file or preset name (default: the {DEFAULT_LIMITS} preset)")
    p.add_argument("--session", help="session name (default: protocol and port)")
    p.add_argument("--bed", default="bed-1", help="bed label shown on screen")
    common_db(p)
    common_operator(p)


def add_device_commands(sub: Any) -> dict[str, Any]:
    """Add the device commands to the `vigil` subparsers; returns their handlers by name."""
    mon = sub.add_parser("monitor", help="acquire from a bedside monitor and show the bed view")
    _link_options(mon)
    _session_options(mon)
    common_server(mon, port_flag="--http-port")

    acq = sub.add_parser("acquire", help="acquire from a bedside monitor into the store, no dashboard")
    _link_options(acq)
    _session_options(acq)
    acq.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: Ctrl+C)")

    dash = sub.add_parser("dashboard", help="serve the bed view of a session in the store (e.g. of vigil acquire)")
    dash.add_argument("--session", type=int, metavar="ID", help="session id (default: the newest session)")
    common_db(dash)
    common_server(dash)
    common_operator(dash)

    rec = sub.add_parser("record", help="capture a bedside monitor to a recorded-session CSV, headless")
    _link_options(rec)
    rec.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="CSV to write (architecture §4)")
    rec.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds (default: Ctrl+C)")

    dec = sub.add_parser("decode", help="turn a raw byte capture (--raw-out) into a recorded-session CSV")
    dec.add_argument("file", type=Path, metavar="FILE.raw")
    _protocol_option(dec)
    dec.add_argument("--out", type=Path, metavar="FILE.csv", help="CSV to write (default: standard output)")
    dec.add_argument("--source", help="name of the device (default: the protocol name)")

    sim = sub.add_parser("simulate", help="emulate a bedside monitor on a pseudo-terminal; prints its path")
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
    return {"monitor": cmd_monitor, "acquire": cmd_acquire, "dashboard": cmd_dashboard, "record": cmd_record,
            "decode": cmd_decode, "simulate": cmd_simulate}


# -- building the link --


def _spec(args: argparse.Namespace) -> ProtocolSpec:
    try:
        return protocol(args.protocol)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _decoder(spec: ProtocolSpec, args: argparse.Namespace) -> Decoder:
    return spec.decoder(args.source or spec.name, args.interval)


def open_link(args: argparse.Namespace) -> tuple[SerialLink, ProtocolSpec]:
    """The serial link the options describe, opened: a port that cannot be opened fails here, once."""
    from adapters.serial_link import LinkConfig, LinkError, SerialLink

    spec = _spec(args)
    if spec.name == "ge-s5" and args.interval >= args.watchdog:
        raise UsageError(f"--watchdog {args.watchdog:g} must be longer than --interval {args.interval}")
    overrides = {"baudrate": args.baud, "bytesize": args.bytesize, "parity": args.parity,
                 "stopbits": args.stopbits, "rtscts": args.rtscts}
    settings = replace(spec.line, **{k: v for k, v in overrides.items() if v is not None})
    config = LinkConfig(args.port, settings, args.source or spec.name, args.watchdog, args.raw_out, args.clock)
    link = SerialLink(config, _decoder(spec, args))
    try:
        link.open()
    except LinkError as exc:
        raise UsageError(str(exc)) from None
    return link, spec


def _live_session(args: argparse.Namespace, link: SerialLink, spec: ProtocolSpec) -> tuple[Store, LiveRunner]:
    from datetime import UTC, datetime

    from monitor.live_alarms import LiveAlarms
    from monitor.live_runner import LiveRunner

    limits = resolve_limits(args.limits)
    store = open_store(args)
    name = args.session or f"{spec.name} on {args.port}"
    session_id = store.create_session(name, "live", bed=args.bed, origin=args.port)
    # On the device's clock the session's first time is not known yet: the limits apply from the start.
    effective = datetime.now(UTC) if args.clock == "host" else datetime.fromtimestamp(0, UTC)
    store.save_limits(session_id, limits.to_dict(), effective, who=args.operator)
    alarms = LiveAlarms(store, session_id, expect_dose=False)
    return store, LiveRunner(store, session_id, link, alarms, device_clock=args.clock == "device")


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
    link, spec = open_link(args)
    store, runner = _live_session(args, link, spec)
    print(f"session {runner.session_id}: acquiring from {_describe(link, spec)}", flush=True)
    return serve(args, store, runner.session_id, False, runner)


def cmd_acquire(args: argparse.Namespace) -> int:
    link, spec = open_link(args)
    store, runner = _live_session(args, link, spec)
    print(f"session {runner.session_id}: acquiring from {_describe(link, spec)}; Ctrl+C to stop", flush=True)
    runner.start()
    try:
        _wait(args.duration, lambda: runner.error is None)
    finally:
        runner.stop()
    n_readings, n_events = store.counts(runner.session_id)
    n_alarms = len(store.alarms_since(runner.session_id))
    print(f"session {runner.session_id}: {n_readings} readings, {n_events} events, {n_alarms} alarms")
    if runner.error is not None:
        raise UsageError(f"acquisition failed: {runner.error}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    store = open_store(args)
    session_id = args.session or store.latest_session()
    if session_id is None:
        raise UsageError("the store holds no session yet")
    try:
        info = store.session(session_id)
    except KeyError:
        raise UsageError(f"no session {session_id} in the store") from None
    return serve(args, store, session_id, info.relative_time)


def _as_note(item: Reading | Event) -> Reading | Event:
    """Link events become notes in a CSV, the only free-text marker the format has."""
    if isinstance(item, Event) and item.kind in (LINK_LOST, LINK_RESTORED):
        text = item.kind.replace("_", " ") + (f": {item.text}" if item.text else "")
        return Event(item.time, "note", text, item.source)
    return item


def cmd_record(args: argparse.Namespace) -> int:
    from adapters.csv_recorder import CsvRecorder

    link, spec = open_link(args)
    lock = threading.Lock()
    stop = threading.Event()
    try:
        out = args.out.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        link.close()
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    with out:
        recorder = CsvRecorder(out)

        def sink(items: list[Reading | Event]) -> None:
            with lock:
                recorder.add([_as_note(i) for i in items])

        thread = threading.Thread(target=link.run, args=(sink, stop), name="record", daemon=True)
        print(f"recording {_describe(link, spec)} to {args.out}; Ctrl+C to stop", flush=True)
        thread.start()
        try:
            _wait(args.duration, thread.is_alive)
        finally:
            stop.set()
            thread.join(5)
            link.close()
            with lock:
                recorder.close()
    print(f"recorded {recorder.readings} readings in {recorder.rows} rows to {args.out}")
    if recorder.readings == 0:
        raise UsageError(f"no data from {args.port}: check the cable, the line settings "
                         f"({link.config.settings.describe()}), --protocol, and {spec.setup_hint}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from adapters.csv_writer import write_wide_csv

    spec = _spec(args)
    decoder = spec.decoder(args.source or spec.name, DEFAULT_INTERVAL_S)
    items: list[Reading | Event] = []
    try:
        with args.file.open("rb") as raw:
            while chunk := raw.read(READ_CHUNK):
                items += decoder.feed(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    readings = [i for i in items if isinstance(i, Reading)]
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(decoder.stats.items()))
    print(f"decoded {args.file}: {counts}", file=sys.stderr)
    if not readings:
        raise UsageError(f"no {spec.name} readings in {args.file}: is it a raw capture of this protocol?")
    events = [i for i in items if isinstance(i, Event)]
    if args.out is None:
        write_wide_csv(sys.stdout, readings, events)
    else:
        with args.out.open("w", newline="", encoding="utf-8") as out:
            write_wide_csv(out, readings, events)
        print(f"wrote {len(readings)} readings to {args.out}", file=sys.stderr)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from adapters.emulators import simulate

    _spec(args)
    stop = threading.Event()

    def announce(path: str) -> None:
        print(f"{args.protocol} emulator on {path} (scenario {args.scenario}, {args.speed:g}×); Ctrl+C to stop",
              flush=True)

    try:
        simulate(args.protocol, args.scenario, args.speed, args.faults, args.link, stop, announce)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        stop.set()
    return 0
