"""Philips IntelliVue MIB/RS-232 framing: BOF 0xC0, header `11 01` + big-endian length, user data, FCS, EOF 0xC1.

The FCS is the PPP frame check sequence (RFC 1662), CRC-16/X.25, over the unescaped header and user data,
sent least significant byte first. Transparency applies to everything between BOF and EOF — header, data
and FCS alike: C0, C1 and 7D are sent as 7D followed by the byte XOR 0x20. (VSCaptureMP escapes only the
data: a length or FCS byte of C0/C1 then reads as a frame boundary; this framer does not repeat that.)

Every BOF starts a frame and every EOF ends one, so after corruption the next BOF resynchronises.
"""

from __future__ import annotations

from collections import Counter

BOF = 0xC0
EOF = 0xC1
ESC = 0x7D
XOR = 0x20
HEADER = b"\x11\x01"  # protocol id (IntelliVue data export), message type (AS/3 data)
HEADER_LEN = 4
FCS_LEN = 2
MAX_USER_DATA = 8192  # a poll result is at most a few kB (the monitor splits larger ones into linked results)
_SPECIAL = (BOF, EOF, ESC)


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _crc_table()


def fcs(data: bytes) -> int:
    """CRC-16/X.25: reflected poly 0x8408, init 0xFFFF, final complement (0x906E for b"123456789")."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


def escape(data: bytes) -> bytes:
    """Transmit transparency: each C0, C1 or 7D becomes 7D, byte XOR 0x20."""
    if not any(b in data for b in _SPECIAL):
        return data
    out = bytearray()
    for b in data:
        if b in _SPECIAL:
            out += bytes((ESC, b ^ XOR))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes | None:
    """Receive transparency; None when a 7D ends the data (the frame was cut)."""
    if ESC not in data:
        return data
    out = bytearray()
    pending = False
    for b in data:
        if pending:
            out.append(b ^ XOR)
            pending = False
        elif b == ESC:
            pending = True
        else:
            out.append(b)
    return None if pending else bytes(out)


def frame(user_data: bytes) -> bytes:
    """The bytes on the wire for one session PDU."""
    body = HEADER + len(user_data).to_bytes(2, "big") + user_data
    return bytes((BOF,)) + escape(body + fcs(body).to_bytes(2, "little")) + bytes((EOF,))


class Deframer:
    """Splits a received stream, in any chunking, into the user data of frames whose header, length and FCS check.

    Counts into `stats`: `frames` (BOF…EOF spans), `checksum_failures` (FCS wrong, dangling escape, too short),
    `bad_headers` (not `11 01`, or a length that disagrees with the frame), `junk_bytes` (outside any frame),
    `overflows` (a span longer than any frame, dropped), `unterminated` (a BOF before the previous frame's EOF).
    """

    def __init__(self, stats: Counter[str]) -> None:
        self.stats = stats
        self._buf = bytearray()
        self._inside = False

    def reset(self) -> None:
        """Forget a partial frame: the link was reopened and what follows is a new stream."""
        self._buf.clear()
        self._inside = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        pos = 0
        n = len(data)
        while pos < n:
            if not self._inside:
                start = data.find(BOF, pos)
                if start < 0:
                    self.stats["junk_bytes"] += n - pos
                    break
                self.stats["junk_bytes"] += start - pos
                self._inside, pos = True, start + 1
                self._buf.clear()
                continue
            end = _next_delimiter(data, pos)
            if end < 0:
                self._buf += data[pos:]
                if len(self._buf) > 2 * (MAX_USER_DATA + HEADER_LEN + FCS_LEN):
                    self.stats["overflows"] += 1
                    self.reset()
                break
            self._buf += data[pos:end]
            if data[end] == BOF:  # a new frame before this one ended: this one was cut
                self.stats["unterminated"] += 1
                self._buf.clear()
            else:
                self._inside = False
                user = self._check(bytes(self._buf))
                if user is not None:
                    out.append(user)
            pos = end + 1
        return out

    def _check(self, escaped: bytes) -> bytes | None:
        self.stats["frames"] += 1
        raw = unescape(escaped)
        if raw is None or len(raw) < HEADER_LEN + FCS_LEN:
            self.stats["checksum_failures"] += 1
            return None
        body, sent = raw[:-FCS_LEN], int.from_bytes(raw[-FCS_LEN:], "little")
        if fcs(body) != sent:
            self.stats["checksum_failures"] += 1
            return None
        if body[:2] != HEADER or int.from_bytes(body[2:4], "big") != len(body) - HEADER_LEN:
            self.stats["bad_headers"] += 1
            return None
        return body[HEADER_LEN:]


def _next_delimiter(data: bytes, pos: int) -> int:
    """The index of the next BOF or EOF at or after `pos`, or -1."""
    a, b = data.find(BOF, pos), data.find(EOF, pos)
    if a < 0:
        return b
    return a if b < 0 else min(a, b)
