"""The device protocols Vigil speaks, by the names the CLI uses (docs/architecture.md): the one registry.

Each protocol's folder exports a `SPEC` saying how to build its decoder and its emulator, which serial
line settings its monitors expect, what to check when nothing arrives, and its own options. The CLI,
the serial link, `vigil decode` and `vigil simulate` all read this list, so a wrong name gets one helpful
message and a new protocol is its folder plus one entry below. Every protocol's options share one
command line: a name two protocols use (`--tz`) is one option meaning the same for both.
"""

from __future__ import annotations

from adapters.protocols import ge_s5, hl7_mllp, philips_mib
from adapters.protocols.base import ProtocolSpec

PROTOCOLS: dict[str, ProtocolSpec] = {spec.name: spec for spec in (ge_s5.SPEC, hl7_mllp.SPEC, philips_mib.SPEC)}


def protocol(name: str) -> ProtocolSpec:
    """The protocol by CLI name; a ValueError naming the valid ones otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}: choose one of {', '.join(PROTOCOLS)}") from None
