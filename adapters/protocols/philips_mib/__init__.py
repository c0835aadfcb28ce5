"""Philips IntelliVue Data Export over the MIB/RS-232 port: framing, PDUs, the decoder and its emulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.model.zones import parse_zone
from adapters.protocols.base import Option, ProtocolSpec
from adapters.protocols.philips_mib.decoder import LINE_SETTINGS, PhilipsMibDecoder

if TYPE_CHECKING:
    from adapters.protocols.philips_mib.emulator import PhilipsMibMonitor
    from adapters.simulation.scenario import Scenario


def _decoder(source: str, options: Mapping[str, Any]) -> PhilipsMibDecoder:
    return PhilipsMibDecoder(source, options["tz"])


def _emulator(scenario: Scenario) -> PhilipsMibMonitor:
    from adapters.protocols.philips_mib.emulator import PhilipsMibMonitor  # loaded only to emulate

    return PhilipsMibMonitor(scenario)


SPEC = ProtocolSpec(
    name="philips-mib",
    description="Philips IntelliVue Data Export over the MIB/RS-232 port",
    line=LINE_SETTINGS,
    decoder=_decoder,
    emulator=_emulator,
    polled=True,
    setup_hint="Data Export on the monitor's MIB port (fixed 115200) and the MIB cable",
    device_zone="tz",
    options=(
        Option("tz", parse_zone, None, "ZONE",
               help="the monitor's time zone (its clock carries no UTC offset): needed to keep its times "
                    "(vigil decode, --clock device), never guessed"),
    ),
)
