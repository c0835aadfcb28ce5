"""A monitor (or gateway) pushing IHE PCD-01 ORU^R01 messages over MLLP: one message per scenario instant.

Sans-I/O like the GE emulator. HL7 result export is unsolicited: nothing is requested, the device sends
each new set of values as it has them, so every distinct reading time of the scenario becomes one
message holding all readings at that time (`encode_oru`, the encoder the decoder's tests pin). ACKs
coming back are counted, never required: a device does not stop exporting for a missing ACK.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from adapters.model.reading import Reading
from adapters.protocols.hl7_mllp.message import CR, EB, SB, encode_oru
from adapters.simulation.scenario import Scenario

_END = bytes((EB, CR))
_MAX_ACK = 1 << 16  # an ACK is a few hundred bytes; a longer unterminated frame is noise


class Hl7Monitor:
    """Sends the scenario's readings as ORU^R01 messages with increasing control ids."""

    framing_bytes = bytes((SB, EB, CR))  # corruption must not create or destroy frame and segment marks

    def __init__(self, scenario: Scenario, sender: str = "VIGIL_SIM") -> None:
        self.scenario = scenario
        self.sender = sender
        self.stats: Counter[str] = Counter()
        self._sent_until = scenario.start - timedelta.resolution  # so the first instant is due at start
        self._control_id = 0
        self._inbox = bytearray()

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
        code = msa[0].split(b"|")[1:2] if msa else []
        if code in ([b"AA"], [b"CA"]):
            self.stats["acks"] += 1
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
                self._control_id += 1
                frames.append(encode_oru(batch, control_id=str(self._control_id), sender=self.sender))
            self._sent_until = t
        self.stats["messages"] += len(frames)
        return frames


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
