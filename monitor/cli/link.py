"""What the device commands share: naming a monitor (port, protocol, line settings and the protocol's own
options) and opening its link, plus the one-line errors and the wait they all use.

Protocol-specific options come from the protocol registry (`adapters/protocols`): each protocol's go in a
group of its own, every protocol's are accepted, and the chosen protocol's decoder reads its own. Nothing
here names a protocol or one of its options.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.protocols import PROTOCOLS, ProtocolSpec, protocol
from adapters.protocols.base import Decoder
from monitor.cli.options import UsageError, argument_type
from monitor.errors import first_line

if TYPE_CHECKING:
    from adapters.transport.serial_link import SerialLink

DEFAULT_WATCHDOG_S = 10.0


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def protocol_option(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--protocol", required=required, metavar="NAME",
                   help=f"device protocol: {', '.join(f'{n} ({s.description})' for n, s in PROTOCOLS.items())}")


def link_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """`required` False: `vigil record --recover` needs no port; the command checks for itself."""
    p.add_argument("--port", required=required, metavar="URL",
                   help="serial port: /dev/ttyUSB0, COM3, socket://host:port, rfc2217://host:port or loop://")
    protocol_option(p, required)
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
    p.add_argument("--watchdog", type=positive, default=DEFAULT_WATCHDOG_S, metavar="S",
                   help=f"no valid data for S seconds = link lost, then reconnect (default {DEFAULT_WATCHDOG_S:g})")
    p.add_argument("--raw-out", type=Path, metavar="FILE",
                   help="append every received byte to FILE (for field debugging; read back with vigil decode)")
    p.add_argument("--clock", choices=("host", "device"), default="host",
                   help="time readings by this computer's clock (default) or the monitor's own clock")
    device_options(p, live=True)


def device_options(p: argparse.ArgumentParser, live: bool) -> None:
    """The device's name and each protocol's own options; `live` False (`vigil decode`): only those that
    change what bytes decode to."""
    p.add_argument("--source", help="name of the device in the record (default: the protocol name)")
    offered: dict[str, str] = {}  # option name → the protocol whose group offers it
    for spec in PROTOCOLS.values():
        options = [o for o in spec.options if live or o.decoding]
        if not options:
            continue
        # An option another protocol offers already: one flag, described here as this protocol reads it.
        note = "; ".join(f"--{o.name} {o.metavar} (also under {offered[o.name]} options): {o.help}"
                         for o in options if o.name in offered)
        group = p.add_argument_group(f"{spec.name} options", note or None)
        for o in options:
            if o.name in offered:
                continue
            offered[o.name] = spec.name
            group.add_argument(f"--{o.name}", dest=o.name, type=argument_type(o.parse), default=o.default,
                               metavar=o.metavar, help=o.help)


def chosen_protocol(args: argparse.Namespace) -> ProtocolSpec:
    try:
        return protocol(args.protocol)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def require_device_zone(spec: ProtocolSpec, args: argparse.Namespace, where: str) -> None:
    """Device times kept (`where`) from a protocol whose clock carries no offset: its zone must be named."""
    zone = spec.device_zone
    if zone is not None and getattr(args, zone, None) is None:
        raise UsageError(f"{spec.name} device clocks carry no UTC offset: {where} needs --{zone} ZONE "
                         "(the monitor's time zone, e.g. Europe/Berlin)")


def new_decoder(spec: ProtocolSpec, args: argparse.Namespace) -> Decoder:
    """The protocol's decoder, with its own options as given (all protocols' are in `args`)."""
    return spec.new_decoder(args.source or spec.name, vars(args))


def open_link(args: argparse.Namespace) -> tuple[SerialLink, ProtocolSpec]:
    """The serial link the options describe, opened: a port that cannot be opened fails here, once."""
    from adapters.transport.serial_link import LinkConfig, LinkError, SerialLink

    spec = chosen_protocol(args)
    if args.clock == "device":
        require_device_zone(spec, args, "--clock device")
    period = spec.request_period
    if period is not None and getattr(args, period) >= args.watchdog:
        raise UsageError(f"--watchdog {args.watchdog:g} must be longer than --{period} {getattr(args, period)}")
    overrides = {"baudrate": args.baud, "bytesize": args.bytesize, "parity": args.parity,
                 "stopbits": args.stopbits, "rtscts": args.rtscts}
    settings = replace(spec.line, **{k: v for k, v in overrides.items() if v is not None})
    config = LinkConfig(args.port, settings, args.source or spec.name, args.watchdog, args.raw_out, args.clock,
                        setup_hint=spec.setup_hint)
    link = SerialLink(config, new_decoder(spec, args))
    try:
        link.open()
    except LinkError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # pyserial's URL handlers raise whatever they meet
        raise UsageError(f"cannot open {args.port}: {first_line(exc)} — check the port or URL") from None
    return link, spec


def no_data(link: SerialLink, spec: ProtocolSpec) -> UsageError:
    settings = link.config.settings.describe()
    return UsageError(f"no data from {link.config.url}: check the cable, the line settings ({settings}), "
                      f"--protocol, and {spec.setup_hint}")


def describe(link: SerialLink, spec: ProtocolSpec) -> str:
    return f"{link.config.url} ({spec.name}, {link.config.settings.describe()})"


def wait(duration: float | None, alive: Callable[[], bool]) -> None:
    """Block until the duration is over, Ctrl+C (the normal way to stop: not an error), or the work ended."""
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
