"""HL7 over the network from the command line: `vigil acquire --listen HOST:PORT` (one bed fed by the monitors
that connect to it, or by the one whose `--hl7-id` matches) and `vigil simulate --connect HOST:PORT` (a
networked monitor in client mode). A site's listener is `[hl7] listen` in site.toml (`vigil serve`)."""

from __future__ import annotations

import argparse
import contextlib
import re
import threading

from adapters.protocols import ProtocolSpec
from monitor.cli.link import chosen_protocol, wait
from monitor.cli.options import UsageError, open_store, session_limits, session_summary
from monitor.errors import first_line

HL7 = "hl7-mllp"
_SENDER = re.compile(r"[ -~]+")
_DELIMITERS = set("|^~\\&")


def _check_protocol(args: argparse.Namespace) -> ProtocolSpec:
    spec = chosen_protocol(args)
    if spec.name != HL7:
        raise UsageError(f"--listen and --connect are for --protocol {HL7}, not {spec.name}")
    return spec


def address(text: str, flag: str) -> tuple[str, int]:
    from adapters.transport.mllp_listener import parse_address

    try:
        return parse_address(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def cmd_acquire_listening(args: argparse.Namespace) -> int:
    """One bed fed over the network until the duration or Ctrl+C; the listener's port busy is one line."""
    from monitor.runtime import bed as beds
    from monitor.runtime.hl7 import Hl7Feed, Hl7Service

    if args.port is not None:
        raise UsageError("give --port (a serial port) or --listen (HL7 monitors connecting), not both")
    host, port = address(args.listen, "--listen")
    spec = _check_protocol(args)
    feed = Hl7Feed.of(spec, args.source or spec.name, vars(args))
    service = Hl7Service(host, port, {args.hl7_id: feed} if args.hl7_id else {}, None if args.hl7_id else feed)
    store, limits = open_store(args), session_limits(args, args.type or "other")
    try:
        service.open()
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.listen} ({exc.strerror or exc}); choose another --listen") from None
    origin = f"HL7 listener {host}:{service.listener.port}" + (f", hl7_id {args.hl7_id}" if args.hl7_id else "")
    bed = beds.LiveBed(args.bed, origin, args.type or "other", limits, args.operator,
                       name=args.session or f"{HL7} from {args.hl7_id or 'any sender'}")
    runner = beds.open_live(store, bed, feed, device_clock=True, patient_label=args.patient)
    who = f"sender {args.hl7_id}" if args.hl7_id else "every sender"
    print(f"session {runner.session_id}: listening for HL7 (MLLP) on {host}:{service.listener.port} for {who}; "
          "Ctrl+C to stop", flush=True)
    runner.start()
    service.start()
    try:
        wait(args.duration, lambda: runner.error is None)
    finally:
        runner.stop()
        service.stop()
    print(session_summary(store, runner.session_id))
    for sender in service.unknown_senders():
        print(f"rejected {sender.messages} messages from unknown sender at {sender.peer}: {sender.ids.describe()}")
    if runner.error is not None:
        raise UsageError(f"acquisition failed: {first_line(runner.error)}")
    if runner.readings == 0:
        check = ", and check --hl7-id" if args.hl7_id else ""
        raise UsageError(f"no HL7 readings arrived on {host}:{service.listener.port}: set the monitor's HL7 server "
                         f"address to this computer and port (client mode){check}")
    return 0


def cmd_simulate_connected(args: argparse.Namespace) -> int:
    """A networked monitor until Ctrl+C: connects, sends, resends what was not acknowledged, reconnects."""
    from adapters.protocols.hl7_mllp.emulator import Hl7Monitor
    from adapters.simulation import load_scenario
    from adapters.simulation.mllp_client import MllpClient

    if args.faults or args.link:
        raise UsageError("--faults and --link are for an emulator on a pty, not --connect")
    _check_protocol(args)
    host, port = address(args.connect, "--connect")
    sender = args.id or "VIGIL_SIM"
    if not _SENDER.fullmatch(sender) or _DELIMITERS.intersection(sender):
        raise UsageError(f"--id must be printable ASCII without HL7 delimiters (| ^ ~ \\ &), got {sender!r}")
    try:
        monitor = Hl7Monitor(load_scenario(args.scenario), sender, alarms=True)
        client = MllpClient(monitor, host, port, speed=args.speed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"{HL7} monitor {sender} sending to {host}:{port} (scenario {args.scenario}, {args.speed:g}×); "
          "Ctrl+C to stop", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # the normal way to stop an emulator
        client.run(threading.Event())
    m, c = monitor.stats, client.stats
    print(f"{sender}: {m['messages']} messages, {m['acks']} acknowledged, {m['rejected']} rejected, "
          f"{len(monitor.unacked)} unacknowledged; {c['connects']} connections, {c['resent']} resent", flush=True)
    return 0
