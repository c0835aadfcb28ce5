"""GE S/5 Computer Interface framing: 0x7E flags, 0x7D escapes, a trailing 8-bit additive checksum.

GE-CI §2: a frame is `7E, escaped(record + checksum), 7E`; the checksum is the 8-bit sum of the
unescaped record bytes and is escaped like the rest ("the checksum byte must be included in the
conversion" — a rule several public implementations miss). Every flag delimits: what lies between two
flags is a frame, so after any corruption the next flag resynchronises the stream.
"""

from __future__ import annotations

from collections import Counter

FLAG = 0x7E
ESC = 0x7D
_FLAG_B = bytes([FLAG])
_ESC_B = bytes([ESC])
HEADER_LEN = 40
MAX_FRAME = 4 * 1500  # a record is at most 40 + 1450 bytes; escaping can double it, plus the checksum


def checksum(record: bytes) -> int:
    """8-bit unsigned sum of the record bytes (GE-CI §2)."""
    return sum(record) & 0xFF


def escape(data: bytes) -> bytes:
    """Transmit transparency: 7E → 7D 5E and 7D → 7D 5D (the escaped byte has bit 5 cleared)."""
    return data.replace(_ESC_B, b"\x7d\x5d").replace(_FLAG_B, b"\x7d\x5e")


def unescape(data: bytes) -> bytes | None:
    """Receive transparency: drop each 7D and set bit 5 of the byte after it. None if a 7D ends the data."""
    if ESC not in data:
        return data
    parts = data.split(_ESC_B)
    if any(not p for p in parts[1:]):  # 7D 7D (an escaped escape) or a 7D at the end: walk byte by byte
        return _unescape_slow(data)
    return parts[0] + b"".join(bytes((p[0] | 0x20,)) + p[1:] for p in parts[1:])


def _unescape_slow(data: bytes) -> bytes | None:
    out = bytearray()
    pending = False
    for b in data:
        if pending:
            out.append(b | 0x20)
            pending = False
        elif b == ESC:
            pending = True
        else:
            out.append(b)
    return None if pending else bytes(out)


def frame(record: bytes) -> bytes:
    """The bytes on the wire for one record: flags around the escaped record and its checksum."""
    return _FLAG_B + escape(record + bytes((checksum(record),))) + _FLAG_B


class Deframer:
    """Splits a received byte stream, in any chunking, into records whose checksum verifies.

    Counts into `stats`: `frames` (non-empty spans between flags), `checksum_failures` (the sum does
    not match, a dangling escape, or too short to hold a record header and a checksum: a sum over one
    or two bytes proves nothing), `junk_bytes` (before the first flag), `overflows` (a span longer than
    any record, dropped while waiting for its closing flag).
    """

    def __init__(self, stats: Counter[str]) -> None:
        self.stats = stats
        self._buf = bytearray()
        self._synced = False

    def reset(self) -> None:
        """Forget a partial frame: the link was reopened and what follows is a new stream."""
        self._buf.clear()
        self._synced = False

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        records: list[bytes] = []
        pos = 0
        if not self._synced:
            first = buf.find(FLAG)
            if first < 0:
                self.stats["junk_bytes"] += len(buf)
                buf.clear()
                return records
            self.stats["junk_bytes"] += first
            pos = first + 1
            self._synced = True
        while True:
            end = buf.find(FLAG, pos)
            if end < 0:
                break
            if end > pos:
                record = self._check(bytes(buf[pos:end]))
                if record is not None:
                    records.append(record)
            pos = end + 1
        del buf[:pos]
        if len(buf) > MAX_FRAME:
            self.stats["overflows"] += 1
            buf.clear()
            self._synced = False
        return records

    def _check(self, escaped: bytes) -> bytes | None:
        self.stats["frames"] += 1
        raw = unescape(escaped)
        if raw is None or len(raw) < HEADER_LEN + 1 or checksum(raw[:-1]) != raw[-1]:
            self.stats["checksum_failures"] += 1
            return None
        return raw[:-1]
