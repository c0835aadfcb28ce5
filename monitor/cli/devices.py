"""The `vigil` commands that talk to bedside monitors: monitor, acquire, record, decode, simulate.

A port is a pyserial URL (a device path, COM3, socket://, rfc2217://, loop://); the line settings
default to what the protocol's monitors use and each can be overridden (`monitor/cli/link.py`).
Failures a user can fix (a port that does not open, an unknown protocol, no data at all) are one line
saying what to check. `record` and `decode` write CSVs (`monitor/cli/capture.py`); `monitor` and
`acquire` open a bed through `monitor/runtime/bed.py`; `acquire --config` runs a bed of a site file
(`monitor/cli/chair.py`).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.simulation import SCENARIOS
from monitor.cli.capture import cmd_decode, cmd_record
from monitor.cli.link import describe, device_options, link_options, no_data, open_link, positive, protocol_option, wait
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
)
from monitor.errors import first_line

if TYPE_CHECKING:
    from adapters.protocols import ProtocolSpec
    from adapters.transport.serial_link import SerialLink
    from monitor.limits.model import Limits
    from monitor.runtime.live import LiveRunner
    from monitor.runtime.spool import Spool
    from monitor.store import Store

DEFAULT_SCENARIO = "iv-ketamine"


def _session_options(p: argparse.ArgumentParser) -> None:
    common_session(p, "other: set it up on screen")
    p.add_argument("--session", help="session name (default: protocol and port)")
    p.add_argument("--bed", default="bed-1", type=_bed_id,
                   help="the bed's id: letters, digits, '-' (default bed-1). Its open session is continued, else one "
                        "is opened; --type and --limits are the bed's defaults for each new session")
    common_db(p)
    common_operator(p)


def _bed_id(text: str) -> str:
    from monitor.store.beds import check_bed_id

    try:
        return check_bed_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_device_commands(sub: Any) -> None:
    """Add the device commands, each with its handler, to the `vigil` subparsers."""
    mon = sub.add_parser("monitor", help="acquire from a bedside monitor and show the bed view")
    mon.set_defaults(handler=cmd_monitor)
    link_options(mon)
    _session_options(mon)
    common_server(mon, port_flag="--http-port")

    acq = sub.add_parser("acquire", help="acquire from a bedside monitor into the store, no dashboard")
    acq.set_defaults(handler=cmd_acquire)
    link_options(acq, required=False)  # --port, or --listen for HL7 monitors that connect: checked by the command
    acq.add_argument("--listen", metavar="HOST:PORT",
                     help="instead of --port: accept HL7 monitors in client mode on HOST:PORT (--protocol hl7-mllp)")
    acq.add_argument("--hl7-id", metavar="ID",
                     help="with --listen: only this sender feeds the bed (matched against OBX-18, PV1-3, MSH-3, "
                          "MSH-4); others are rejected. Default: every sender")
    _session_options(acq)
    acq.add_argument("--spool", type=Path, metavar="FILE",
                     help="with a database server (postgresql://…): where the bed's data is kept while the server is "
                          "out of reach, delivered when it is back (default: spool-BED.sqlite in your state folder, "
                          "$XDG_STATE_HOME/vigil or ~/.local/state/vigil)")
    acq.add_argument("--duration", type=positive, metavar="S", help="stop after S seconds (default: Ctrl+C)")
    acq.add_argument("--config", type=Path, metavar="site.toml",
                     help="instead of --port: run bed --bed of this site file, as a chair computer of a site whose "
                          "central computer runs `vigil serve --config site.toml --no-acquire`")

    rec = sub.add_parser("record", help="capture a bedside monitor to a recorded-session CSV, headless")
    rec.set_defaults(handler=cmd_record)
    link_options(rec, required=False)
    rec.add_argument("--out", type=Path, required=True, metavar="FILE.csv",
                     help="CSV to write (architecture §4); written as FILE.csv.part while recording, which a "
                          "crash leaves complete up to the last data received")
    rec.add_argument("--duration", type=positive, metavar="S", help="stop after S seconds (default: Ctrl+C)")
    rec.add_argument("--recover", action="store_true",
                     help="finish the capture a crash left in FILE.csv.part into FILE.csv (no port needed)")

    dec = sub.add_parser("decode", help="turn a raw byte capture (--raw-out) into a recorded-session CSV")
    dec.set_defaults(handler=cmd_decode)
    dec.add_argument("file", type=Path, metavar="FILE.raw")
    protocol_option(dec)
    dec.add_argument("--out", type=Path, metavar="FILE.csv", help="CSV to write (default: standard output)")
    device_options(dec, live=False)

    sim = sub.add_parser("simulate", help="emulate a bedside monitor on a pseudo-terminal; prints its path")
    sim.set_defaults(handler=cmd_simulate)
    protocol_option(sim)
    sim.add_argument("--scenario", default=DEFAULT_SCENARIO, metavar="NAME|FILE",
                     help=f"a built-in scenario ({', '.join(SCENARIOS)}) or a recorded session (CSV or .vital) "
                          f"(default {DEFAULT_SCENARIO})")
    sim.add_argument("--speed", type=positive, default=1.0, help="scenario seconds per wall second (default 1)")
    sim.add_argument("--faults", metavar="SPEC",
                     help="inject faults, e.g. corrupt=0.01,drop=0.02,unplug=600+30,silence=900+20,seed=7 "
                          "(probabilities per frame; AT+FOR in scenario seconds)")
    sim.add_argument("--link", type=Path, metavar="PATH",
                     help="keep a symlink at PATH to the current pty (it changes after an unplug fault)")
    sim.add_argument("--connect", metavar="HOST:PORT",
                     help="instead of a pty: a networked hl7-mllp monitor in client mode, sending to the listener "
                          "at HOST:PORT, resending what is not acknowledged and reconnecting")
    sim.add_argument("--id", metavar="ID", help="with --connect: the monitor's id, sent as MSH-3 (default VIGIL_SIM)")


def _prepare_session(args: argparse.Namespace) -> tuple[Store, Limits]:
    """What can fail before the port is touched: the limits and the store."""
    return open_store(args), session_limits(args, args.type or "other")


def _open_bed(args: argparse.Namespace, store: Store | None, limits: Limits, spool: Spool | None = None,
              connect: Callable[[], Store] | None = None, hold: Callable[[Store], None] | None = None,
              ) -> tuple[LiveRunner, SerialLink, ProtocolSpec]:
    """Open the port, then the bed it feeds (`monitor/runtime/bed.py`)."""
    from monitor.runtime import bed as beds

    link, spec = open_link(args)
    bed = beds.LiveBed(args.bed, args.port, args.type or "other", limits, args.operator,
                       name=args.session or f"{spec.name} on {args.port}")
    return beds.open_live(store, bed, link, device_clock=args.clock == "device", patient_label=args.patient,
                          spool=spool, connect=connect, hold=hold), link, spec


def cmd_monitor(args: argparse.Namespace) -> int:
    from monitor.cli.chair import hold_bed, taken_over

    store, limits = _prepare_session(args)
    auth = server_auth(args, store)  # refused, and a busy HTTP port fails, before the monitor is opened
    listener = bind_listener(args.host, args.http_port, "--http-port")
    leases = hold_bed(store, args.bed)  # one process writes a bed, as with `acquire` and a site's `serve`
    try:
        runner, link, spec = _open_bed(args, store, limits)
    except BaseException:
        leases.stop()
        raise
    # Taken over (this process stalled past its lease): a failure of the acquisition, so the view stops with the
    # reason rather than show numbers this process no longer writes.
    leases.on_lost = lambda bed: setattr(runner, "error", taken_over(leases, bed, None))
    print(f"session {runner.session_id}: acquiring from {describe(link, spec)}", flush=True)
    leases.start()
    try:
        return serve(args, store, lambda: runner.session_id, False, runner, listener=listener, auth=auth)
    finally:
        leases.stop()


def cmd_acquire(args: argparse.Namespace) -> int:
    if args.config is not None:
        from monitor.cli.chair import cmd_acquire_bed

        return cmd_acquire_bed(args)
    if args.listen is not None:
        from monitor.cli.hl7 import cmd_acquire_listening

        return cmd_acquire_listening(args)
    if args.hl7_id is not None:
        raise UsageError("--hl7-id goes with --listen")
    if args.port is None or args.protocol is None:
        raise UsageError("acquire needs --port and --protocol (or --listen HOST:PORT for HL7 monitors)")
    from monitor.cli.chair import chair_ended, hold_bed, open_chair, taken_over

    limits = session_limits(args, args.type or "other")
    store, spool, connect = open_chair(args)
    leases = hold_bed(store, args.bed)  # as a chair computer holds it: the two exclude each other
    try:
        runner, link, spec = _open_bed(args, store, limits, spool, connect, leases.hold)
    except BaseException:
        leases.stop()
        raise
    where = f"bed {args.bed}" if store is None else f"session {runner.session_id}"
    print(f"{where}: acquiring from {describe(link, spec)}; Ctrl+C to stop", flush=True)
    runner.start()
    leases.start()
    try:
        wait(args.duration, lambda: runner.error is None and not leases.lost)
    finally:
        runner.stop()
        leases.stop()
    if leases.lost:  # whether the heartbeat or the spool's delivery found it out
        raise taken_over(leases, args.bed, spool)
    print(chair_ended(runner, spool, args.bed))
    if spool is not None:
        spool.close()
    if runner.error is not None:
        raise UsageError(f"acquisition failed: {first_line(runner.error)}")
    if runner.readings == 0:  # this run's: a continued session may hold readings of an earlier one
        raise no_data(link, spec)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from adapters.simulation import simulate

    if args.connect is not None:
        from monitor.cli.hl7 import cmd_simulate_connected

        return cmd_simulate_connected(args)
    if args.id is not None:
        raise UsageError("--id goes with --connect")

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
