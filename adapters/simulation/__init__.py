"""Device emulators: a scenario spoken byte-exactly in a monitor's protocol, on a pseudo-terminal.

So everything from the decoders to the bed view can be tried without hardware (`vigil simulate`;
docs/architecture.md). The protocol cores (`ge_s5`, `hl7_mllp`) are sans-I/O and run on the scenario clock;
`pty_host` alone touches a file descriptor, and `faults` makes the line misbehave on purpose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from adapters.protocols.ge_s5.emulator import GeS5Monitor
from adapters.protocols.hl7_mllp.emulator import Hl7Monitor
from adapters.simulation.faults import Faults
from adapters.simulation.pty_host import Emulator, PtyHost
from adapters.simulation.scenario import Scenario, load_scenario

# name → (emulator factory, whether the scenario clock waits for the reader's request)
PROTOCOLS: dict[str, tuple[Callable[[Scenario], Emulator], bool]] = {
    "ge-s5": (GeS5Monitor, True),
    "hl7-mllp": (Hl7Monitor, False),
}

__all__ = ["PROTOCOLS", "Faults", "GeS5Monitor", "Hl7Monitor", "PtyHost", "Scenario", "load_scenario", "simulate"]


def simulate(protocol: str, scenario: str, speed: float, faults: str | None, link: Path | None,
             stop: threading.Event, on_path: Callable[[str], None]) -> None:
    """Serve `scenario` (a built-in name or a CSV path) as `protocol` on a pty until `stop` is set.

    Each slave path the reader should open goes to `on_path` (again after an unplug fault). Every bad
    argument raises ValueError with a one-line message before the pty opens.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r} (emulated: {', '.join(PROTOCOLS)})")
    fault_spec = Faults.parse(faults) if faults else None
    factory, wait_for_request = PROTOCOLS[protocol]
    host = PtyHost(factory(load_scenario(scenario)), speed=speed, faults=fault_spec, link=link,
                   wait_for_request=wait_for_request)
    host.run(stop, on_path)
