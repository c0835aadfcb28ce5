"""A monitor (or gateway) pushing IHE PCD-01 ORU^R01 messages over MLLP: one message per scenario instant.

Sans-I/O like the GE emulator. HL7 result export is unsolicited: nothing is requested, the device sends
each new set of values as it has them, so every distinct reading time of the scenario becomes one
message holding all readings at that time (`encode_oru`, the encoder the decoder's tests pin). ACKs
coming back are counted; on a serial line they are never required. A networked monitor in client mode
(`adapters/simulation/mllp_client.py`) resends what `unacked` still holds: an AA/CA takes a message off it,
and so does an AR/CR (a rejected message is not resent: it would be rejected again), an AE/CE does not.
With `alarms`, the monitor also raises its own SpO2-low alarm as IHE PCD-04 ORU^R40 messages: phase start
when SpO2 falls below SPO2_ALARM, end when it is back.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from datetime import datetime, timedelta

from adapters.model.reading import Reading
from adapters.protocols.hl7_mllp.alarms import encode_r40
from adapters.protocols.hl7_mllp.message import CR, EB, SB, encode_oru
from adapters.simulation.scenario import Scenario

_END = bytes((EB, CR))
_MAX_ACK = 1 << 16  # an ACK is a few hundred bytes; a longer unterminated frame is noise
MAX_UNACKED = 10_000  # messages kept for resending; older ones are dropped (counted): a monitor's memory is finite
SPO2_ALARM = 90.0  # %: below it the emulated monitor raises its own SpO2-low alarm (with `alarms`)


class Hl7Monitor:
    """Sends the scenario's readings as ORU^R01 messages with increasing control ids."""

    framing_bytes = bytes((SB, EB, CR))  # corruption must not create or destroy frame and segment marks

    def __init__(self, scenario: Scenario, sender: str = "VIGIL_SIM", *, alarms: bool = False) -> None:
        self.scenario = scenario
        self.sender = sender
        self.alarms = alarms
        self.stats: Counter[str] = Counter()
        self.unacked: OrderedDict[str, bytes] = OrderedDict()  # control id → frame, oldest first
        self._sent_until = scenario.start - timedelta.resolution  # so the first instant is due at start
        self._control_id = 0
        self._inbox = bytearray()
        self._spo2_low = False

    def receive(self, data: bytes, now: datetime | None = None) -> int:
        """Count the ACKs in bytes from the host (`acks`, `naks`, `other_messages`, `noise_bytes`).
        Returns 0: nothing the host sends is a request."""
        box = self._inbox
        box += data
        while box:
            start = box.find(SB)
            if start < 0:
                self.stats["noise_bytes"] += len(box)
                box.clear()
                break
            self.stats["noise_bytes"] += start
            end = box.find(_END, start)
            if end < 0:
                del box[:start]
                if len(box) > _MAX_ACK:
                    self.stats["noise_bytes"] += len(box)
                    box.clear()
                break
            self._count(bytes(box[start + 1:end]))
            del box[:end + len(_END)]
        return 0

    def _count(self, message: bytes) -> None:
        msa = [s for s in message.split(b"\r") if s.startswith(b"MSA")]
        fields = msa[0].split(b"|") if msa else []
        code = fields[1] if len(fields) > 1 else b""
        control_id = fields[2].decode("latin-1") if len(fields) > 2 else ""
        if code in (b"AA", b"CA"):
            self.stats["acks"] += 1
            self.unacked.pop(control_id, None)
        elif code in (b"AR", b"CR"):
            self.stats["naks"] += 1
            self.stats["rejected"] += control_id in self.unacked
            self.unacked.pop(control_id, None)
        elif code:
            self.stats["naks"] += 1
        else:
            self.stats["other_messages"] += 1

    def next_due(self) -> datetime | None:
        """Scenario time of the next message, None once every instant was sent."""
        return self.scenario.next_instant(self._sent_until)

    def frames_due(self, now: datetime) -> list[bytes]:
        """MLLP-framed messages for the scenario instants in (last sent, now]."""
        frames = []
        for t, readings in self.scenario.instants_between(self._sent_until, now):
            for batch in _one_per_vital(readings):
                frames.append(encode_oru(batch, control_id=self._next_id(), sender=self.sender))
            if self.alarms:
                frames += self._alarm(t, readings)
            self._sent_until = t
        self.stats["messages"] += len(frames)
        return frames

    def _next_id(self) -> str:
        self._control_id += 1
        return str(self._control_id)

    def _alarm(self, t: datetime, readings: list[Reading]) -> list[bytes]:
        """An ORU^R40 when SpO2 crosses SPO2_ALARM: the alarm's start going below, its end coming back."""
        spo2 = next((r.value for r in readings if r.vital == "spo2"), None)
        if spo2 is None or (spo2 < SPO2_ALARM) == self._spo2_low:
            return []
        self._spo2_low = not self._spo2_low
        self.stats["alarms"] += 1
        return [encode_r40(t, control_id=self._next_id(), sender=self.sender, source_mdc=150456,
                           source_ref="MDC_PULS_OXIM_SAT_O2", event="196674^MDC_EVT_LO",
                           phase="start" if self._spo2_low else "end", priority="PM",
                           state="active" if self._spo2_low else "inactive")]

    def keep(self, frames: list[bytes]) -> None:
        """Hold sent frames until they are acknowledged (by control id), at most MAX_UNACKED."""
        for data in frames:
            self.unacked[_control_id(data)] = data
        while len(self.unacked) > MAX_UNACKED:
            self.unacked.popitem(last=False)
            self.stats["unacked_dropped"] += 1


def _control_id(frame: bytes) -> str:
    """MSH-10 of a frame this emulator encoded."""
    return frame.split(b"\r", 1)[0].split(b"|")[9].decode("ascii")


def _one_per_vital(readings: list[Reading]) -> list[list[Reading]]:
    """Split an instant's readings so no message carries a vital twice (a CSV may hold duplicates)."""
    batches: list[list[Reading]] = []
    for r in readings:
        batch = next((b for b in batches if all(x.vital != r.vital for x in b)), None)
        if batch is None:
            batches.append([r])
        else:
            batch.append(r)
    return batches
