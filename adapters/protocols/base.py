"""What every device protocol provides: a sans-I/O decoder, the line settings it expects, and its registry entry.

A decoder turns received bytes into `Reading`s and `Event`s and says what bytes it wants sent (a
transmission request, an acknowledgement). It never touches a port, a thread or a clock: the serial
link (`adapters/transport/serial_link.py`) owns those, so every decoder is tested by feeding it bytes.

Times in what a decoder emits are the device's own (`time` is `device_time`, or earlier for an NIBP reading
measured before the record that carried it), within EARLIEST_TIME and LATEST_TIME; the link re-stamps
`time` on the host clock when asked to. Anything a decoder cannot use is counted in `stats`, never raised
(and `GuardedDecoder` makes sure that a decoder bug does not stop acquisition either).

Each protocol's folder exports a `SPEC` (a `ProtocolSpec`) that `adapters/protocols/__init__.py` lists.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from adapters.model.reading import Event, Reading

if TYPE_CHECKING:  # the simulation loads only for `vigil simulate`
    from adapters.simulation.pty_host import Emulator
    from adapters.simulation.scenario import Scenario

Item = Reading | Event

log = logging.getLogger(__name__)

# Device times a decoder may emit: wider than any monitor's clock (even one reset to its epoch), and far
# enough from the calendar's ends (years 1 and 9999) that no arithmetic on them — a host-clock offset
# between two of them, an alarm delay — can overflow. Others are bad times, counted.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(3000, 1, 1, tzinfo=UTC)

LOGGED_BYTES = 64  # of a chunk a decoder failed on, logged as hex: enough to recognise it, never a flood


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

    def resume(self, nibp: Sequence[Reading]) -> None:
        """Before the first bytes: the last NIBP measurement already recorded from this monitor (its readings,
        with their device times), which the monitor may still be showing and repeating. It is not a new
        measurement: a restarted acquisition must not record it twice."""


@dataclass(frozen=True)
class Option:
    """A setting of one protocol alone, offered on the command line as `--NAME` among its protocol's options.

    `parse` turns the text given into the value, or raises ValueError saying what is allowed.
    """

    name: str
    parse: Callable[[str], Any]
    default: Any
    metavar: str
    help: str
    decoding: bool = True  # changes what bytes decode to; False: only matters on a live link (not `vigil decode`)


@dataclass(frozen=True)
class ProtocolSpec:
    """Everything Vigil knows about one protocol, in one place: adding a protocol adds one of these."""

    name: str  # as the CLI and configuration name it
    description: str
    line: LineSettings  # what its monitors use unless told otherwise
    # (source name, this protocol's option values by name) → a fresh decoder
    decoder: Callable[[str, Mapping[str, Any]], Decoder]
    emulator: Callable[[Scenario], Emulator]  # the device, for `vigil simulate` and the tests
    polled: bool  # the device sends only when asked: the emulator's clock waits for the reader's request
    setup_hint: str  # what to check on the monitor when nothing arrives
    options: tuple[Option, ...] = ()
    request_period: str | None = None  # the option giving how often the decoder asks: the watchdog must be longer
    # the option naming the zone of a device clock that carries no offset: required wherever device times are
    # kept (`vigil decode`, `--clock device`); on the host clock only their spacing counts
    device_zone: str | None = None
    # stats key → what to tell the user when a capture held no readings and that key was counted
    empty_hints: Mapping[str, str] = field(default_factory=dict)

    def new_decoder(self, source: str, values: Mapping[str, Any]) -> Decoder:
        """A fresh decoder with this protocol's options taken from `values` (defaults for those missing;
        other protocols' options are ignored, so one namespace can hold them all)."""
        return self.decoder(source, {o.name: values.get(o.name, o.default) for o in self.options})


class GuardedDecoder:
    """A decoder behind the one guard every caller that feeds it received bytes uses (the serial link,
    `vigil decode`): no exception from `feed` or `pending_output`, on any input, gets out.

    Decoders count what they cannot use and never raise; a bug that breaks that promise must cost the
    chunk it was fed, not the acquisition. A failure is counted as `decoder_errors` in the decoder's own
    `stats` (so it shows wherever they do) and logged at its first occurrence per cause (exception type and
    the line that raised it: a poisoned message repeated every second logs once, not 86 400 times a day)
    with the chunk's stream offset, length and first LOGGED_BYTES bytes. What is queued to be sent when a
    chunk fails is dropped (the link collects the queue after every chunk, so it is what the failed chunk
    queued): an acknowledgement would tell the device that data it sent had arrived. The decoder is
    not restarted; its framing resynchronises on the next chunk as after any corrupt frame. `start` is not
    guarded: it takes no input, and a decoder that cannot start (a request it cannot encode) must fail
    where the link opens.
    """

    def __init__(self, decoder: Decoder, name: str) -> None:
        self.decoder = decoder
        self.name = name  # where the bytes came from, for the log: a port, a capture file
        self.stats = decoder.stats
        self._offset = 0  # bytes fed so far: where a failed chunk lies in the stream (and in a --raw-out capture)
        self._causes: set[tuple[str, str, int]] = set()  # bounded by the decoder's code, not by its input

    def start(self) -> None:
        self.decoder.start()

    def feed(self, data: bytes) -> list[Item]:
        offset, self._offset = self._offset, self._offset + len(data)
        try:
            return self.decoder.feed(data)
        except Exception as exc:
            self._failed(exc, data, offset)
            self.pending_output()  # dropped
            return []

    def resume(self, nibp: Sequence[Reading]) -> None:
        self.decoder.resume(nibp)

    def pending_output(self) -> bytes:
        try:
            return self.decoder.pending_output()
        except Exception as exc:
            self._failed(exc, b"", self._offset)
            return b""

    def _failed(self, exc: Exception, data: bytes, offset: int) -> None:
        self.stats["decoder_errors"] += 1
        where = traceback.extract_tb(exc.__traceback__)[-1]
        cause = (type(exc).__name__, where.filename, where.lineno or 0)
        if cause in self._causes:
            log.debug("decoder failed again on %s (%s at byte %d)", self.name, cause[0], offset)
            return
        self._causes.add(cause)
        text = str(exc).strip()
        message = text.splitlines()[0][:200] if text else ""
        more = f" (+{len(data) - LOGGED_BYTES} more)" if len(data) > LOGGED_BYTES else ""
        log.error(
            "decoder bug: %s: %s (%s:%d) on %d bytes from %s at stream byte %d, skipped; first bytes: %s%s",
            cause[0], message, Path(where.filename).name, cause[2], len(data), self.name, offset,
            data[:LOGGED_BYTES].hex(" "), more,
        )
