"""HL7 v2 ORU^R01 (IHE PCD-01) over MLLP: the sans-I/O streaming decoder (reading fields: `message.py`).

MLLP frames a message as `0x0B message 0x1C 0x0D`, with no length and no checksum, so framing is the only
thing that resynchronises a corrupted stream: bytes outside a frame are noise, a new 0x0B restarts a frame,
and a frame is capped in size. Inside a frame each OBX carrying a number becomes a reading of the vital its
code names; everything the decoder cannot use is counted in `stats` under the name of the reason, never
raised.

Decisions worth knowing:
* Frames are decoded as Latin-1: it never fails, and fields echoed into an ACK go back byte for byte
  whatever charset MSH-18 names. Codes, units, numbers and times are ASCII in every charset HL7 allows here.
* A message that cannot be read (a segment that is not `XXX|…`) or is neither ORU^R01 nor ORU^R40 yields
  nothing; an ORU^R40 (IHE PCD-04) yields the monitor's own alarms as events (`alarms.py`).
* OBX-11 statuses other than final/preliminary/corrected/unverified (e.g. `W` = wrong, `D` = deleted) are
  refused: a value the device itself withdrew must never reach the bed view.
* Times without a UTC offset are never guessed: with `tz=None` (the default) such an OBX is skipped and
  counted as `no_offset_times` (not also `bad_time`: each skipped OBX is counted once, under one reason;
  a malformed or impossible time is `bad_time` whether or not it has an offset). Given a `tz`, offset-less
  times are read as wall-clock time there.
* NIBP is emitted once per measurement, not once per message: some monitors and gateways repeat the last
  cuff result in every ORU push. For each of sbp/dbp/map the last emitted (time, value) is kept, and an
  NIBP OBX is skipped and counted as `nibp_repeats` when its time came from OBX-14 or OBR-7 and equals the
  last emitted time of that vital (a same-time result with another value is skipped too: the first value
  stands), or when its only time is MSH-7 (which says when the message was sent, not when the cuff
  measured) and its value equals the last emitted value of that vital. The MSH-7 rule is per vital, so a
  new measurement that repeats, say, the previous diastolic loses that one value: the price of telling a
  repeat from a measurement without a measurement time. This memory survives `start()`: a reconnect does
  not make an old cuff result new; and `resume` sets it from what was recorded, so a restarted acquisition
  does not either. Continuous vitals are never suppressed.
* `stats["valid_frames"]` grows with every well-terminated MLLP frame (0x1C 0x0D) that holds an HL7
  message (a readable MSH header), of whatever type or content beyond that: it proves the line settings
  right, and the serial link resets its watchdog on it. Frames of bytes that are not HL7 (e.g. line noise
  at a wrong baud rate that happens to contain 0x0B…0x1C 0x0D) count only in `frames`.
* The decoder has no clock, so an ACK's MSH-7 repeats the received MSH-7 and its MSH-10 repeats the received
  control id (unique per sender, hence per link).
* Nothing it keeps grows with its input: an OBX whose code maps to no vital counts as `unmapped`, and the
  first UNMAPPED_SAMPLE distinct codes are also counted each under `unmapped:<code>` (what `vigil decode`
  shows, to tell which codes a monitor sends); ACKs queued beyond `max_frame` bytes that nobody collected
  (`vigil decode` sends none) count as `unsent_acks`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, tzinfo

from adapters.model.reading import Reading
from adapters.model.vitals import NIBP_CODES
from adapters.protocols.base import Item, LineSettings
from adapters.protocols.hl7_mllp.alarms import alarm_events
from adapters.protocols.hl7_mllp.message import CR, SB, nth, parse_dtm, parse_number, unit_factor, vital_of
from adapters.protocols.hl7_mllp.received import Received, read_message

# HL7 over RS-232 has no standard line settings: these must match the monitor's HL7 export menu, and the
# link configuration overrides them.
LINE_SETTINGS = LineSettings(9600)

MAX_FRAME = 1 << 20  # bytes, by default; larger "frames" are garbage that must not grow memory forever
UNMAPPED_SAMPLE = 32  # distinct unmapped codes counted by name; the rest only in the total
MAX_ALARMS = 256  # monitor alarms whose last state is remembered (to skip repeats); the least recent forgotten
_FRAME_MARK = re.compile(rb"[\x0b\x1c]")

# OBX-11 statuses whose value stands (HL7 table 0085): corrected, final, preliminary, results entered,
# partial, changed to final. `X` (cannot be obtained) counts as no value; the rest are refused.
_USABLE_STATUS = frozenset({"", "C", "F", "P", "R", "S", "U"})


class Hl7MllpDecoder:
    """Decodes ORU^R01 and ORU^R40 messages from an MLLP byte stream and queues the acknowledgements they
    ask for."""

    def __init__(self, source: str = "hl7-mllp", tz: tzinfo | None = None, max_frame: int = MAX_FRAME) -> None:
        self.source = source
        self.max_frame = max_frame  # bytes a frame may hold (and unsent ACKs may queue) before it is abandoned
        self.tz = tz  # for HL7 times without an offset; None: such times are unusable, never guessed
        self.stats: Counter[str] = Counter()
        self._last_nibp: dict[str, tuple[datetime, float]] = {}  # per NIBP vital, the last emitted reading
        self._alarm_said: dict[str, str] = {}  # per monitor alarm, the text last emitted, least recent first
        self._unmapped_named = 0  # distinct `unmapped:<code>` keys in stats, at most UNMAPPED_SAMPLE
        self._frame: bytearray | None = None  # None: outside a frame
        self._end_pending = False  # the frame's 0x1C was the last byte seen; its 0x0D is still due
        self._out = bytearray()

    def start(self) -> None:
        """The link (re)opened: a partial frame and unsent ACKs belong to the old connection.

        The last emitted NIBP readings are kept: the device may well repeat its last cuff result."""
        if self._frame is not None:
            self.stats["truncated_frames"] += 1
        self._frame = None
        self._end_pending = False
        self._out.clear()

    def resume(self, nibp: Sequence[Reading]) -> None:
        """The last measurement recorded, as if emitted by this decoder: a repeat of it is not new."""
        for r in nibp:
            self._last_nibp[r.vital] = (r.measured_at or r.time, r.value)

    def pending_output(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def feed(self, data: bytes) -> list[Item]:
        """What the messages completed by `data` carry; their acknowledgements queued at once (a serial link
        has no store of its own to wait for)."""
        items: list[Item] = []
        for message in self.messages(data):
            items += self.items(message)
            self._queue(message.ack(message.outcome))
        return items

    def messages(self, data: bytes) -> list[Received]:
        """The messages completed by `data`, read but not yet decoded nor acknowledged: a caller that must
        first route or store them (the network listener) calls `items` and `Received.ack` itself."""
        out = []
        for frame in self._frames(data):
            self.stats["frames"] += 1
            message = read_message(frame)
            if message is None:  # no separators, no control id: nothing to read and nobody to answer
                self.stats["bad_messages"] += 1
                continue
            self.stats["valid_frames"] += 1  # an HL7 message, whatever its type: the line settings are right
            if message.outcome != "A":
                self.stats["bad_messages"] += 1
            if not message.control_id and message.ack_codes(message.outcome):
                self.stats["unacknowledgeable"] += 1
            out.append(message)
        return out

    def items(self, message: Received) -> list[Item]:
        """What an accepted message carries: an ORU^R01's readings, an ORU^R40's monitor alarms."""
        if message.outcome != "A":
            return []
        self.stats["messages"] += 1
        if message.trigger == "R40":
            return self._alarms(message)
        return self._observations(message.segments, message.fs, message.cs, message.msh[7])

    def _alarms(self, message: Received) -> list[Item]:
        """The monitor's alarms in an ORU^R40, each only when what it says of its alarm changed (a repeat of
        the same state counts as `alarm_repeats`)."""
        found, skipped = alarm_events(message.segments, message.fs, message.cs, message.msh[7], self.tz,
                                      self.source)
        self.stats.update(skipped)
        events: list[Item] = []
        for identity, event in found:
            if self._alarm_said.get(identity) == event.text:
                self.stats["alarm_repeats"] += 1
                continue
            self._alarm_said.pop(identity, None)
            self._alarm_said[identity] = event.text
            while len(self._alarm_said) > MAX_ALARMS:
                del self._alarm_said[next(iter(self._alarm_said))]
            self.stats["monitor_alarms"] += 1
            events.append(event)
        return events

    def _queue(self, ack: bytes) -> None:
        if not ack:
            return
        if len(self._out) > self.max_frame:
            self.stats["unsent_acks"] += ack.count(SB)
            return
        self._out += ack
        self.stats["acks"] += ack.count(SB)

    def _frames(self, data: bytes) -> list[bytes]:
        """The MLLP frames `data` completes; what lies outside frames, or breaks them, is counted."""
        frames: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._frame is None:
                start = data.find(SB, pos)
                skipped = (end if start < 0 else start) - pos
                if skipped:
                    self.stats["noise_bytes"] += skipped
                if start < 0:
                    break
                self._frame = bytearray()
                pos = start + 1
            elif self._end_pending:
                self._end_pending = False
                frame, self._frame = self._frame, None
                if data[pos] == CR:
                    pos += 1
                    frames.append(bytes(frame))
                else:  # 0x1C without 0x0D: not a frame end we trust; rescan this byte outside a frame
                    self.stats["bad_frames"] += 1
            else:
                mark = _FRAME_MARK.search(data, pos)
                stop = end if mark is None else mark.start()
                if len(self._frame) + stop - pos > self.max_frame:
                    self.stats["oversized_frames"] += 1
                    self._frame = None
                    pos = stop
                    continue
                self._frame += data[pos:stop]
                if mark is None:
                    break
                if data[stop] == SB:
                    self.stats["truncated_frames"] += 1
                    self._frame = bytearray()
                else:
                    self._end_pending = True
                pos = stop + 1
        return frames

    def _observations(self, segments: list[str], fs: str, cs: str, msh_time: str) -> list[Item]:
        readings: list[Item] = []
        seen: set[tuple[str, datetime]] = set()
        group_time, group_measured = msh_time, False  # measured: the time is OBR-7's, not MSH-7's
        for segment in segments:
            fields = segment.split(fs)
            if fields[0] == "OBR":
                obr_time = nth(fields, 7).strip()
                group_time, group_measured = obr_time or msh_time, bool(obr_time)
            elif fields[0] == "OBX":
                reading = self._observation(fields, cs, group_time)
                if reading is None:
                    continue
                if (reading.vital, reading.time) in seen:
                    self.stats["duplicates"] += 1
                    continue
                seen.add((reading.vital, reading.time))
                if reading.vital in NIBP_CODES:
                    measured = group_measured or bool(nth(fields, 14).strip())
                    if self._nibp_repeat(reading, measured):
                        self.stats["nibp_repeats"] += 1
                        continue
                    self._last_nibp[reading.vital] = (reading.time, reading.value)
                self.stats["readings"] += 1
                readings.append(reading)
        return readings

    def _nibp_repeat(self, reading: Reading, measured: bool) -> bool:
        """Whether an NIBP reading repeats the last one emitted for its vital: the same measurement time
        when the message gives one (OBX-14, OBR-7), else (MSH-7 only) the same value."""
        last = self._last_nibp.get(reading.vital)
        if last is None:
            return False
        return reading.time == last[0] if measured else reading.value == last[1]

    def _observation(self, obx: list[str], cs: str, group_time: str) -> Reading | None:
        """One OBX as a Reading, or None with the reason counted."""
        text, status = nth(obx, 5).strip(), nth(obx, 11).strip().upper()
        if status == "X" or not text:
            self.stats["no_value"] += 1
            return None
        if status not in _USABLE_STATUS:
            self.stats["bad_status"] += 1
            return None
        if nth(obx, 2).strip().upper() not in ("", "NM"):
            self.stats["non_numeric"] += 1
            return None
        vital, key = vital_of(nth(obx, 3), cs)
        if vital is None:
            self._unmapped(key)
            return None
        factor = unit_factor(nth(obx, 6), cs, vital)
        if factor is None:
            self.stats["unit_mismatch"] += 1
            return None
        value = parse_number(text) * factor
        if not (math.isfinite(value) and vital.plausible(value)):
            self.stats["implausible"] += 1
            return None
        t = parse_dtm(nth(obx, 14).strip() or group_time, self.tz)
        if isinstance(t, str):
            self.stats[t] += 1
            return None
        measured = t if vital.code in NIBP_CODES else None
        return Reading(t, vital.code, value, source=self.source, device_time=t, measured_at=measured)

    def _unmapped(self, key: str) -> None:
        """Count an OBX of no known vital; by its code too while fewer than UNMAPPED_SAMPLE codes are named."""
        self.stats["unmapped"] += 1
        name = f"unmapped:{key}"
        if name not in self.stats:
            if self._unmapped_named >= UNMAPPED_SAMPLE:
                return
            self._unmapped_named += 1
        self.stats[name] += 1
