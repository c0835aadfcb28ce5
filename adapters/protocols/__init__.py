"""The device protocols Vigil speaks, by the names the CLI uses (architecture §6).

Each entry says how to build its decoder and which serial line settings its monitors expect, so the
CLI, the serial link and `vigil decode` share one list and a wrong name gets one helpful message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from adapters.protocols.base import Decoder, LineSettings
from adapters.protocols.ge_s5.decoder import LINE_SETTINGS as GE_LINE
from adapters.protocols.ge_s5.decoder import GeS5Decoder
from adapters.protocols.hl7_mllp.decoder import LINE_SETTINGS as HL7_LINE
from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    description: str
    line: LineSettings
    # (source name, request interval in s, zone of device times without an offset) → a fresh decoder
    decoder: Callable[[str, int, tzinfo | None], Decoder]
    setup_hint: str  # what to check on the monitor when nothing arrives


PROTOCOLS: dict[str, ProtocolSpec] = {
    spec.name: spec
    for spec in (
        ProtocolSpec(
            "ge-s5", "GE Datex-Ohmeda S/5 / CARESCAPE Computer Interface", GE_LINE,
            lambda source, interval, _tz: GeS5Decoder(source, interval),  # GE times are Unix seconds
            "the monitor's Computer Interface output and a null-modem cable",
        ),
        ProtocolSpec(
            "hl7-mllp", "HL7 v2 ORU^R01 (IHE PCD-01) over MLLP", HL7_LINE,
            lambda source, _interval, tz: Hl7MllpDecoder(source, tz),  # the monitor pushes: nothing to request
            "the monitor's HL7 / data export menu (and --tz if its times carry no UTC offset)",
        ),
    )
}


def protocol(name: str) -> ProtocolSpec:
    """The protocol by CLI name; a ValueError naming the valid ones otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}: choose one of {', '.join(PROTOCOLS)}") from None
