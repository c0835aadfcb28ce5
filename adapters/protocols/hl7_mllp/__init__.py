"""HL7 v2 ORU^R01 (IHE PCD-01) over MLLP: the message codec, the streaming decoder and its emulator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adapters.model.zones import parse_zone
from adapters.protocols.base import Option, ProtocolSpec
from adapters.protocols.hl7_mllp.decoder import LINE_SETTINGS, Hl7MllpDecoder

if TYPE_CHECKING:
    from adapters.protocols.hl7_mllp.emulator import Hl7Monitor
    from adapters.simulation.scenario import Scenario


def _decoder(source: str, options: Mapping[str, Any]) -> Hl7MllpDecoder:
    return Hl7MllpDecoder(source, options["tz"])  # the monitor pushes: nothing to request


def _emulator(scenario: Scenario) -> Hl7Monitor:
    from adapters.protocols.hl7_mllp.emulator import Hl7Monitor  # loaded only to emulate

    return Hl7Monitor(scenario)


SPEC = ProtocolSpec(
    name="hl7-mllp",
    description="HL7 v2 ORU^R01 (IHE PCD-01) over MLLP",
    line=LINE_SETTINGS,
    decoder=_decoder,
    emulator=_emulator,
    polled=False,
    setup_hint="the monitor's HL7 / data export menu (and --tz if its times carry no UTC offset)",
    options=(
        Option("tz", parse_zone, None, "ZONE",
               help="the zone of device times that carry no UTC offset (never guessed; such times are skipped "
                    "and counted without it)"),
    ),
    empty_hints={"no_offset_times": "times without a UTC offset: name their zone with --tz"},
)
