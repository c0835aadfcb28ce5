"""GE Datex-Ohmeda S/5 / CARESCAPE Computer Interface: framing, records, the decoder and its emulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.protocols.base import Option, ProtocolSpec
from adapters.protocols.ge_s5.decoder import DEFAULT_INTERVAL_S, LINE_SETTINGS, GeS5Decoder

if TYPE_CHECKING:
    from adapters.protocols.ge_s5.emulator import GeS5Monitor
    from adapters.simulation.scenario import Scenario


def _interval(text: str) -> int:
    """GE's tx_ival is a signed 16-bit count of seconds; 0 and -1 mean stop and once, not a period."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected whole seconds, got {text!r}") from None
    if not 1 <= value <= 32767:
        raise ValueError(f"must be 1 to 32767 seconds, got {text}")
    return value


def _decoder(source: str, options: Mapping[str, Any]) -> GeS5Decoder:
    return GeS5Decoder(source, options["interval"])  # GE times are Unix seconds: no zone to name


def _emulator(scenario: Scenario) -> GeS5Monitor:
    from adapters.protocols.ge_s5.emulator import GeS5Monitor  # loaded only to emulate

    return GeS5Monitor(scenario)


SPEC = ProtocolSpec(
    name="ge-s5",
    description="GE Datex-Ohmeda S/5 / CARESCAPE Computer Interface",
    line=LINE_SETTINGS,
    decoder=_decoder,
    emulator=_emulator,
    polled=True,
    setup_hint="the monitor's Computer Interface output and a null-modem cable",
    options=(
        Option("interval", _interval, DEFAULT_INTERVAL_S, "S", decoding=False,
               help=f"request displayed values every S seconds (default {DEFAULT_INTERVAL_S}; the spec asks for at "
                    "least 5, CARESCAPE monitors also honour 1)"),
    ),
    request_period="interval",
)
