"""Every decoder in the registry, fed 10⁵ mutated inputs: not one exception, only plausible readings at
times within the decoders' contract, and nothing it keeps grows with what it was fed.

A seeded mutator, not hypothesis, does the bulk: it is fast enough for 10⁵ inputs in seconds, and a
failure names the input by its number, so it replays. Inputs are real frames of each protocol, mutated
the way lines and devices break them — bytes flipped, inserted, dropped, spans repeated or spliced from
another frame, cut short — and, because int() refuses more than 4300 digits, very long digit runs put
into HL7 fields (and extreme integers into GE's binary ones). Most are reframed after mutating, so they
pass MLLP framing or GE's checksum and reach the parsers; the rest are mutated on the wire.
"""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from adapters.model.reading import Reading
from adapters.model.vitals import VITALS
from adapters.protocols import PROTOCOLS
from adapters.protocols.base import EARLIEST_TIME, LATEST_TIME, Decoder
from adapters.protocols.ge_s5.framing import frame as ge_frame
from adapters.protocols.ge_s5.records import (
    CLASS_BASIC,
    CLASS_EXT1,
    MT_WAVE,
    NIBP_AUTO,
    NIBP_MEASURING,
    NIBP_OLDER_THAN_60S,
    PH_DISPL,
    PHYSDATA_LEN,
    encode_basic,
    encode_phdb,
    encode_request,
    encode_subrecord,
)
from adapters.protocols.hl7_mllp.message import CR, EB, SB, encode_oru
from adapters.protocols.philips_mib.encode import AARE, mds_create_event, nu_value, observation, poll_results
from adapters.protocols.philips_mib.framing import frame as mib_frame
from adapters.protocols.philips_mib.pdu import AARQ, ABRT, RLRQ, ext_poll_request, mds_create_result

N_INPUTS = 100_000
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Far more than any decoder's fixed set of reasons (HL7's sample of unmapped codes included): without the
# bound, 10⁵ mutated messages would name thousands of distinct codes.
MAX_STATS_KEYS = 64


def _ge_seeds() -> list[bytes]:
    """Unframed GE records: displayed values through an NIBP cycle, another class, a wave, our request."""
    t = int(T0.timestamp())
    values = {"hr": 72, "spo2": 97.5, "pr": 71, "rr": 14}
    nibp = {"sbp": 128, "dbp": 81, "map": 97}
    seeds = [
        encode_phdb(i, t + i, [encode_subrecord(t + i, CLASS_BASIC, encode_basic(v, label), 6)], 6)
        for i, (v, label) in enumerate([
            (values, NIBP_AUTO), (values, NIBP_AUTO | NIBP_MEASURING), (values | nibp, NIBP_AUTO | NIBP_MEASURING),
            (values | nibp, NIBP_AUTO), (values | nibp, NIBP_AUTO | NIBP_OLDER_THAN_60S), ({}, 0),
        ])
    ]
    ext = encode_subrecord(t, CLASS_EXT1, bytes(PHYSDATA_LEN), 6)
    seeds.append(encode_phdb(9, t, [ext, encode_subrecord(t, CLASS_BASIC, encode_basic(values), 6)], 6))
    wave = bytearray(encode_phdb(10, t, [], 6))
    wave[15] = MT_WAVE
    return [*seeds, bytes(wave), encode_request(PH_DISPL, 1)]


def _hl7_seeds() -> list[bytes]:
    """Unframed HL7 messages: the emulator's PCD-01, and the shapes other monitors and gateways send."""
    readings = [Reading(T0, v, x) for v, x in (("hr", 72.0), ("spo2", 97.5), ("pr", 71.0), ("rr", 14.0))]
    nibp = [Reading(T0, v, x) for v, x in (("sbp", 128.0), ("dbp", 81.0), ("map", 97.0))]
    encoded = [encode_oru(readings[:2], control_id="1"), encode_oru(readings[2:], control_id="2"),
               encode_oru(nibp, control_id="3")]
    texts = [
        "MSH|^~\\&|EFFICIA||||20260301090000||ORU^R01|3|P|2.3\rOBR|1||||||20260301085900\r"
        "OBX||NM|0002-4a05^NBPs^MDIL||122|0004-0f20^mmHg^MDIL|||||F|||20260301085930\r"
        "OBX||NM|0002-4bb8^SpO2^MDIL||98|0004-0220^%^MDIL|||||F\r",
        "MSH|^~\\&|GW|ACME|||20260301090000+0000||ORU^R01^ORU_R01|4|P|2.6|||AL|NE\rPID|||1\r"
        "OBR|1|||182777000^monitoring^SCT|||20260301085842+0000\r"
        "OBX|1||69965^MDC_DEV_MON^MDC|1.0.0.0|||||||X\r"
        "OBX|2|NM|X1^local^99LOC^149538^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.4|63|{beat}/min^{beat}/min^UCUM|||||R\r"
        "OBX|3|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|16.2|kPa^kPa^UCUM|||||C|||20260301085842-0500\r",
        "MSH|^~\\&|VSP|GE|||20260301090000||ORU^R01|5|P|2.6|||NE|AL\r"
        "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.5.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R\r"
        "OBX|2|NM|150033^MDC_PRESS_BLD_ART_SYS^MDC|1.13.1.1|112|266016^MDC_DIM_MMHG^MDC|||||W\r",
    ]
    return [e[1:-2] for e in encoded] + [t.encode("latin-1") for t in texts]


def _mib_seeds() -> list[bytes]:
    """Philips session PDUs: the MDS create, then poll results (numerics, compound NIBP with its time, linked
    parts), an association's answers, our own requests and an abort: every kind the decoder tells apart."""
    local = T0.replace(tzinfo=None)
    vitals = [observation(1, 0x4182, nu_value(0x4182, 0, 0x0AA0, 72)),
              observation(2, 0x4BB8, nu_value(0x4BB8, 0, 0x0220, 97.5)),
              observation(3, 0x4822, nu_value(0x4822, 0x4000, 0x0AA0, 71)),
              observation(4, 0x500A, nu_value(0x500A, 0, 0x0AE0, 0x027FFFFF))]
    nibp = observation(5, 0x4A04, compound=[nu_value(p, 0, 0x0F20, v) for p, v in
                                            ((0x4A05, 128), (0x4A06, 81), (0x4A07, 97))], stamp=local)
    results = poll_results(1, 1, 8000, [*vitals, nibp], 1000) + poll_results(1, 1, 16000, [*vitals, nibp], 60)
    mds = mds_create_event(1, 0, local, 0)
    # Results weigh most, and the PDUs that end a session least: most inputs must reach the numerics.
    return [mds, results[0], *results * 4, mds, AARE, AARQ, mds_create_result(1, 0), ext_poll_request(1, 1, 240000),
            RLRQ, ABRT]


def _be_numbers(rng: random.Random, data: bytearray) -> None:
    """An extreme 8-, 16- or 32-bit big-endian value at any offset: lengths, counts, ids, times, FLOATs."""
    size = rng.choice([1, 2, 4])
    at = rng.randrange(max(1, len(data) - size))
    value = rng.choice(_EXTREMES) & ((1 << (8 * size)) - 1)
    data[at:at + size] = value.to_bytes(size, "big")


def _mllp(message: bytes) -> bytes:
    return bytes([SB]) + message + bytes([EB, CR])


@dataclass(frozen=True)
class Target:
    seeds: list[bytes]
    frame: Callable[[bytes], bytes]
    interesting: bytes  # bytes that mean something to the protocol: delimiters, flags, escapes
    numbers: Callable[[random.Random, bytearray], None]  # puts an extreme number into a field
    fit: Callable[[random.Random, bytearray], None] = lambda _rng, _data: None  # e.g. a length field
    clean: int = 1  # how many seeds, from the first, restore a working session after any input


def _hl7_digits(rng: random.Random, data: bytearray) -> None:
    """A digit run at the start of a field or component, inserted or replacing it: short, or around and
    past int()'s 4 300-digit limit (now and then far past it)."""
    starts = [m.end() for m in _HL7_DELIMITER.finditer(data)] or [0]
    at = rng.choice(starts)
    n = rng.randint(1, 12) if rng.random() < 0.6 else rng.randint(4290, 4310) if rng.random() < 0.9 else 20_000
    end = at
    if rng.random() < 0.5:  # replace the field's content
        m = _HL7_FIELD_END.search(data, at)
        end = len(data) if m is None else m.start()
    same = rng.random() < 0.2
    data[at:end] = bytes([rng.choice(b"0123456789")]) * n if same else rng.randbytes(n).translate(_DIGIT_TABLE)


_HL7_DELIMITER = re.compile(rb"[|^]")
_HL7_FIELD_END = re.compile(rb"[|^\r]")
_DIGIT_TABLE = bytes(48 + b % 10 for b in range(256))
_EXTREMES = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def _ge_numbers(rng: random.Random, data: bytearray) -> None:
    """An extreme 8-, 16- or 32-bit value at any offset: lengths, offsets, times, values, status bits."""
    size = rng.choice([1, 2, 4])
    at = rng.randrange(max(1, len(data) - size))
    value = rng.choice(_EXTREMES) & ((1 << (8 * size)) - 1)
    data[at:at + size] = struct.pack({1: "<B", 2: "<H", 4: "<I"}[size], value)


def _ge_fit(rng: random.Random, data: bytearray) -> None:
    """Most of the time, r_len made to match again: a record of another length stops at the header."""
    if len(data) >= 2 and rng.random() < 0.7:
        data[:2] = struct.pack("<H", len(data) & 0xFFFF)


TARGETS = {
    "ge-s5": Target(_ge_seeds(), ge_frame, bytes([0x7E, 0x7D, 0x00, 0xFF, 0x80, 0x7F]), _ge_numbers, _ge_fit),
    "hl7-mllp": Target(_hl7_seeds(), _mllp, b"\x0b\x1c\r\n|^~\\&.+-0123456789XNMFRCDW", _hl7_digits),
    "philips-mib": Target(_mib_seeds(), mib_frame, bytes([0xC0, 0xC1, 0x7D, 0x00, 0xFF, 0x80, 0x7F, 0xE1]),
                          _be_numbers, clean=2),  # the MDS create (the clock) and a result
}


def mutate(rng: random.Random, target: Target) -> bytes:
    """One input: a seed, 1–4 mutations, reframed (so that it reaches the parser) or mutated on the wire."""
    seed = rng.choice(target.seeds)
    wire = rng.random() < 0.2
    data = bytearray(target.frame(seed) if wire else seed)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(10)
        if op == 0 and at < len(data):
            data[at] = rng.choice(target.interesting) if rng.random() < 0.5 else rng.randrange(256)
        elif op == 1:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 2:
            del data[at:at + rng.randint(1, 16)]
        elif op == 3:
            data[at:at] = data[at:at + rng.randint(1, 64)] * rng.randint(1, 4)
        elif op == 4:
            other = rng.choice(target.seeds)
            start = rng.randrange(len(other))
            data[at:at] = other[start:start + rng.randint(1, 200)]
        elif op == 5:
            del data[at:]
        elif op == 6:
            target.numbers(rng, data)
        elif at < len(data):  # the most common corruption: one byte
            data[at] = rng.randrange(256)
    if wire:
        return bytes(data)
    target.fit(rng, data)
    return target.frame(bytes(data))


def assert_sane(items: list, n: int) -> None:
    for item in items:
        assert isinstance(item, Reading), n
        assert VITALS[item.vital].plausible(item.value), (n, item)
        assert item.device_time is not None, (n, item)
        assert EARLIEST_TIME <= min(item.time, item.device_time) <= max(item.time, item.device_time) < LATEST_TIME, (
            n, item)


def fresh(name: str) -> Decoder:
    decoder = PROTOCOLS[name].new_decoder(name, {"interval": 1, "tz": UTC})
    decoder.start()
    decoder.pending_output()
    return decoder


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_hundred_thousand_mutated_inputs_raise_nothing_and_grow_nothing(name: str) -> None:
    target = TARGETS[name]
    rng = random.Random(f"vigil-fuzz-{name}")
    decoder = fresh(name)
    fed = 0
    for n in range(N_INPUTS):
        if n % 5000 == 0:  # a fresh decoder now and then: the states right after start() get their share
            decoder = fresh(name)
        data = mutate(rng, target)
        cut = rng.randrange(len(data) + 1) if rng.random() < 0.3 else len(data)
        for chunk in (data[:cut], data[cut:]):  # some inputs arrive in two reads
            assert_sane(decoder.feed(chunk), n)
            decoder.pending_output()  # as the serial link does after every read
        fed += 1
        assert len(decoder.stats) <= MAX_STATS_KEYS, (n, sorted(decoder.stats))
    assert fed == N_INPUTS
    # Whatever came before, a clean frame decodes again.
    clean = b"".join(target.frame(seed) for seed in target.seeds[:target.clean])
    items = decoder.feed(clean) + decoder.feed(clean)
    assert {r.vital for r in items} >= {"hr", "spo2"}


def test_the_mutator_reaches_the_parsers_with_long_digit_runs() -> None:
    """The bulk test proves something only if its inputs get past framing and carry what broke int()."""
    rng = random.Random(1)
    inputs = [mutate(rng, TARGETS["hl7-mllp"]) for _ in range(2000)]
    decoder = fresh("hl7-mllp")
    for data in inputs:
        decoder.feed(data)
        decoder.pending_output()
    assert decoder.stats["messages"] > 1000 and decoder.stats["readings"] > 1000
    assert sum(1 for data in inputs if re.search(rb"[|^][0-9]{4301}", data)) > 20
    decoder = fresh("ge-s5")
    readings = sum(len(decoder.feed(mutate(rng, TARGETS["ge-s5"]))) for _ in range(2000))
    assert decoder.stats["phdb_records"] > 400 and readings > 800
