"""Device emulators: a scenario spoken byte-exactly in a monitor's protocol, on a pseudo-terminal.

So everything from the decoders to the bed view can be tried without hardware (`vigil simulate`;
docs/architecture.md). Each protocol's emulator lives in its folder under `adapters/protocols/` and is found
through the protocol registry; it is sans-I/O and runs on the scenario clock. `pty_host` alone touches a
file descriptor, and `faults` makes the line misbehave on purpose. SCENARIOS names the built-in scenarios.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from adapters.protocols import protocol as protocol_spec
from adapters.simulation.faults import Faults
from adapters.simulation.physiology import SCENARIOS
from adapters.simulation.pty_host import PtyHost
from adapters.simulation.scenario import Scenario, load_scenario

__all__ = ["SCENARIOS", "Faults", "PtyHost", "Scenario", "load_scenario", "simulate"]


def simulate(protocol: str, scenario: str, speed: float, faults: str | None, link: Path | None,
             stop: threading.Event, on_path: Callable[[str], None]) -> None:
    """Serve `scenario` (a built-in name or a CSV path) as `protocol` on a pty until `stop` is set.

    Each slave path the reader should open goes to `on_path` (again after an unplug fault). Every bad
    argument raises ValueError with a one-line message before the pty opens.
    """
    spec = protocol_spec(protocol)
    fault_spec = Faults.parse(faults) if faults else None
    host = PtyHost(spec.emulator(load_scenario(scenario)), speed=speed, faults=fault_spec, link=link,
                   wait_for_request=spec.polled)
    host.run(stop, on_path)
