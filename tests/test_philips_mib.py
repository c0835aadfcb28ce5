"""The Philips IntelliVue MIB/RS-232 protocol (`philips-mib`): framing, PDUs and the decoder, byte for byte
against the layouts and frames in the Data Export research (frames with FCS derived from VSCaptureMP's
canned requests and checked against a real capture's FCS), and frames built to probe each rule."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from adapters.protocols.philips_mib.framing import BOF, EOF, Deframer, escape, fcs, frame, unescape

MDS_CREATE_RESULT = bytes.fromhex("e1 00 00 02 00 02 00 14 00 01 00 01 00 0e 00 21 00 00 00 00 00 0a bd 00 0d 06 00 00")
SINGLE_POLL = bytes.fromhex(
    "e1 00 00 02 00 01 00 1c 00 00 00 07 00 16 00 21 00 00 00 00 00 00 00 00 0c 16 00 08 00 01 00 01 00 06 00 00")
EXT_POLL = bytes.fromhex("e1 00 00 02 00 01 00 20 00 01 00 07 00 1a 00 21 00 00 00 00 00 00 00 00"
                         " f1 3b 00 0c 00 01 00 01 00 06 00 00 00 00 00 00")


def test_fcs_is_crc16_x25() -> None:
    assert fcs(b"123456789") == 0x906E
    assert fcs(b"") == 0x0000


@pytest.mark.parametrize(("user_data", "tail"), [
    (MDS_CREATE_RESULT, "0d 06 00 00 39 17 c1"),
    (SINGLE_POLL, "00 06 00 00 8e 95 c1"),
    (EXT_POLL, "00 00 00 00 4c 7d e0 c1"),  # FCS 0xC04C: its C0 is escaped
])
def test_frames_match_the_derived_wire_bytes(user_data: bytes, tail: str) -> None:
    wire = frame(user_data)
    assert wire[:5] == bytes((BOF, 0x11, 0x01, 0x00, len(user_data)))
    assert wire.endswith(bytes.fromhex(tail))
    assert BOF not in wire[1:] and EOF not in wire[:-1]


def test_escaping_covers_header_data_and_fcs() -> None:
    assert escape(bytes((0xC0, 0xC1, 0x7D, 0x11))) == bytes.fromhex("7d e0 7d e1 7d 5d 11")
    assert unescape(bytes.fromhex("7d e0 7d e1 7d 5d 11")) == bytes((0xC0, 0xC1, 0x7D, 0x11))
    assert unescape(b"\x01\x7d") is None
    data = bytes(0xC1)  # a length of 0x00C1: the header's length byte must be escaped
    wire = frame(data)
    assert wire[1:6] == bytes.fromhex("11 01 00 7d e1")
    assert Deframer(Counter()).feed(wire) == [data]


def test_deframer_takes_any_chunking() -> None:
    wire = frame(MDS_CREATE_RESULT) + frame(EXT_POLL) + frame(bytes(range(256)))
    for size in (1, 2, 3, 7, len(wire)):
        d = Deframer(Counter())
        got = [u for i in range(0, len(wire), size) for u in d.feed(wire[i:i + size])]
        assert got == [MDS_CREATE_RESULT, EXT_POLL, bytes(range(256))]


def test_corrupt_frames_are_counted_and_the_stream_resynchronises() -> None:
    good = frame(EXT_POLL)
    flipped = bytearray(good)
    flipped[10] ^= 0x01
    cut = good[:15]  # no EOF: the next BOF starts over
    stats: Counter[str] = Counter()
    d = Deframer(stats)
    got = d.feed(b"noise" + bytes(flipped) + cut + good + b"\x00\xc1" + good)
    assert got == [EXT_POLL, EXT_POLL]
    assert stats["checksum_failures"] == 1 and stats["unterminated"] == 1 and stats["junk_bytes"] == 7
    body = b"\x11\x01\x00\x09\x01\x02\x03"  # says 9 bytes, holds 3: a valid FCS does not save it
    assert d.feed(bytes((BOF,)) + escape(body + fcs(body).to_bytes(2, "little")) + bytes((EOF,))) == []
    assert stats["bad_headers"] == 1


def test_random_payloads_round_trip() -> None:
    rng = random.Random(18)
    payloads = [bytes(rng.choice((0xC0, 0xC1, 0x7D, rng.randrange(256))) for _ in range(rng.randrange(300)))
                for _ in range(200)]
    d = Deframer(Counter())
    assert d.feed(b"".join(frame(p) for p in payloads)) == payloads
