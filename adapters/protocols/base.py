"""What every device protocol provides: a sans-I/O decoder, and the line settings it expects.

A decoder turns received bytes into `Reading`s and `Event`s and says what bytes it wants sent (a
transmission request, an acknowledgement). It never touches a port, a thread or a clock: the serial
link (`adapters/serial_link.py`) owns those, so every decoder is tested by feeding it bytes.

Times in what a decoder emits are the device's own (`time` is `device_time`, or earlier for an NIBP reading
measured before the record that carried it), within EARLIEST_TIME and LATEST_TIME; the link re-stamps
`time` on the host clock when asked to. Anything a decoder cannot use is counted in `stats`, never raised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from adapters.reading import Event, Reading

Item = Reading | Event

# Device times a decoder may emit: wider than any monitor's clock (even one reset to its epoch), and far
# enough from the calendar's ends (years 1 and 9999) that no arithmetic on them — a host-clock offset
# between two of them, an alarm delay — can overflow. Others are bad times, counted.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(3000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LineSettings:
    """Serial line parameters, as pyserial names them."""

    baudrate: int
    bytesize: int = 8
    parity: str = "N"  # pyserial: N, E, O, M, S
    stopbits: float = 1
    rtscts: bool = False

    def describe(self) -> str:
        """`19200 8E1 RTS/CTS`: the form device manuals and export menus use."""
        stop = int(self.stopbits) if float(self.stopbits).is_integer() else self.stopbits
        flow = " RTS/CTS" if self.rtscts else ""
        return f"{self.baudrate} {self.bytesize}{self.parity}{stop}{flow}"


class Decoder(Protocol):
    """Bytes in, readings out. `stats` counts frames, failures and what was skipped, by name."""

    stats: Counter[str]

    def start(self) -> None:
        """The link (re)opened: drop any partial frame and queue what the protocol sends first."""

    def feed(self, data: bytes) -> list[Item]:
        """Consume received bytes, in any chunking; return what complete frames carried."""

    def pending_output(self) -> bytes:
        """Bytes the protocol wants sent now (requests, acknowledgements); empties the queue."""
