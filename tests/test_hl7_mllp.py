"""HL7 ORU^R01 over MLLP: the published sample messages decode to exactly the readings they carry, in any
chunking; noise, truncation and corruption are counted and resynchronised; times without an offset are
never guessed; a repeated NIBP result is emitted once; every HL7 frame feeds the watchdog; ACKs follow the
HL7 rules; and the emulator's encoder round-trips exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.model.reading import Reading
from adapters.model.vitals import VITAL_CODES, VITALS
from adapters.protocols.base import Decoder
from adapters.protocols.hl7_mllp.decoder import LINE_SETTINGS, MAX_FRAME, UNMAPPED_SAMPLE, Hl7MllpDecoder
from adapters.protocols.hl7_mllp.message import encode_oru

SB, EB, CR = b"\x0b", b"\x1c", b"\r"

# research/protocols.md §3.3, verbatim (segments one per line here, joined with CR below).
SAMPLE_A = r"""
MSH|^~\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20090713090030+0500||ORU^R01^ORU_R01|MSGID1234|P|2.6|||NE|AL|||||IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO
PID|||789567^^^Imaginary Hospital^PI||Doe^John^Joseph^^^^L^A|||M
OBR|1|AB12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|CD12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|528391^MDC_DEV_SPEC_PROFILE_BP^MDC|||20090813095715+0500
OBX|1||528391^MDC_DEV_SPEC_PROFILE_BP^MDC|1|||||||R|||||||0123456789ABCDEF^EUI-64
OBX|2||150020^MDC_PRESS_BLD_NONINV^MDC|1.0.1|||||||R|||20090813095715+0500
OBX|3|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.0.1.1|120|266016^MDC_DIM_MMHG^MDC|||||R
OBX|4|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.0.1.2|80|266016^MDC_DIM_MMHG^MDC|||||R
OBX|5|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.0.1.3|100|266016^MDC_DIM_MMHG^MDC|||||R
"""  # noqa: E501 (verbatim sample lines)
SAMPLE_B = r"""
MSH|^~\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20090713090030+0000||ORU^R01^ORU_R01|MSGID1234|P|2.6|||NE|AL|||||IHE PCD ORU-R012006^HL7^2.16.840.1.113883.9.n.m^HL7
PID|||789567^^^Imaginary Hospital^PI ||Doe^John^Joseph^^^^L^A|||M
OBR|1|AB12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|CD12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|182777000^monitoring of patient^SNOMED-CT|||20090813095715+0000
OBX|1||528388^MDC_DEV_SPEC_PROFILE_PULS_OXIM^MDC|1|||||||X|||20090715070707+0000||||0123456789ABCDEF^EUI-64
OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.1|80.5|262688^MDC_DIM_PERCENT^MDC|||||R|||20090715070707+0000
OBX|3|NA|150452^MDC_PULS_OXIM_PLETH^MDC|1.0.0.2|12^123^24^12^234^55^66^77^88^99|262656^MDC_DIM_DIMLESS^MDC|||||R|||20090715070707+0000
"""  # noqa: E501 (verbatim sample lines)
SAMPLE_C = r"""
MSH|^~\&|ACME_Gateway^080019FFFE3ED02D^EUI-64|ACME Healthcare|||20110602050000+0000||ORU^R01^ORU_R01|0104ef190d604db188c3|P|2.6|||AL|NE||UNICODE UTF-8|||PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO
PID|||HO2009001^^^NIST^PI||Hon^Albert^^^^^L|Adams^^^^^^L|19610101|M|||15 N Saguaro^^Tucson^AZ^85701^^M
PV1||I|HO Surgery^OR^1|
OBR|1|080019FFFE3ED02D20110602045842^ACME_Gateway^080019FFFE3ED02D^EUI-64|080019FFFE3ED02D20110602045842^ACME_Gateway^080019FFFE3ED02D^EUI-64|182777000^monitoring of patient^SCT|||20110602045842+0000
OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X
OBX|2||70686^MDC_DEV_PRESS_BLD_NONINV_VMD^MDC|1.1.0.0|||||||X
OBX|3||70687^MDC_DEV_PRESS_BLD_NONINV_CHAN^MDC|1.1.1.0|||||||X|||20110602045842+0000
OBX|4|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|120|mm[Hg]^mm[Hg]^UCUM|||||R|||20110602045842+0000||||080019FFFE3ED02D172.16.172.135^GATEWAY_ACME
OBX|5|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.1.1.2|80|mm[Hg]^mm[Hg]^UCUM|||||R|||20110602045842+0000||||080019FFFE3ED02D172.16.172.135^GATEWAY_ACME
OBX|6|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.1.1.3|93|mm[Hg]^mm[Hg]^UCUM|||||R|||20110602045842+0000||||080019FFFE3ED02D172.16.172.135^GATEWAY_ACME
OBX|7|NM|149546^MDC_PULS_RATE_NON_INV^MDC|1.1.1.4|63|{beat}/min^{beat}/min^UCUM|||||R|||20110602045842+0000||||080019FFFE3ED02D172.16.172.135^GATEWAY_ACME
"""  # noqa: E501 (verbatim sample lines)
SAMPLE_D = r"""
MSH|^~\&|VSP^080019FFFE134535^EUI-64|GE Healthcare|||20130122134100||ORU^R01^ORU_R01|004097134535|P|2.6|||NE|AL||UNICODE UTF-8|||PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO
OBX|11|NM|147842^MDC_ECG_HEART_RATE^MDC|1.5.1.1|80|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||||||080019FFFE0B4020^B40_GE
OBX|4|NM|150033^MDC_PRESS_BLD_ART_SYS^MDC|1.13.1.1|112|266016^MDC_DIM_MMHG^MDC|||||R|||||||080019FFFE0B4020^B40_GE
"""  # noqa: E501 (verbatim sample lines)
# The two Philips Efficia MDIL lines of §3.3, verbatim, in a minimal message (MSH and OBR are ours).
SAMPLE_PHILIPS = r"""
MSH|^~\&|EFFICIA||||20140510124500||ORU^R01|1|P|2.3
OBR|1||||||20140510124400
OBX||NM|0002-4a05^NBPs^MDIL||122|0004-0f20^mmHg^MDIL|||||F|||20140510124430
OBX||NM|0002-4bb8^SpO2^MDIL||98|0004-0220^%^MDIL|||||F
"""


def frame(text: str) -> bytes:
    """MLLP frame around a message written one segment per line."""
    return SB + (text.strip("\n").replace("\n", "\r") + "\r").encode("latin-1") + EB + CR


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def summary(items: list) -> list[tuple[str, float, datetime]]:
    return [(r.vital, r.value, r.time) for r in items]


SAMPLES = {
    "a": (
        SAMPLE_A,
        [
            ("sbp", 120.0, utc(2009, 8, 13, 4, 57, 15)),
            ("dbp", 80.0, utc(2009, 8, 13, 4, 57, 15)),
            ("map", 100.0, utc(2009, 8, 13, 4, 57, 15)),
        ],
        {"no_value": 2},  # the profile and NIBP container OBXs carry no value
    ),
    "b": (
        SAMPLE_B,
        [("spo2", 80.5, utc(2009, 7, 15, 7, 7, 7))],
        {"no_value": 1, "non_numeric": 1},  # status X; the NA pleth waveform
    ),
    "c": (
        SAMPLE_C,
        [
            ("sbp", 120.0, utc(2011, 6, 2, 4, 58, 42)),
            ("dbp", 80.0, utc(2011, 6, 2, 4, 58, 42)),
            ("map", 93.0, utc(2011, 6, 2, 4, 58, 42)),
        ],
        {"no_value": 3, "unmapped": 1, "unmapped:149546": 1},  # three X containers; the NIBP pulse rate
    ),
    "d": (
        SAMPLE_D,
        [("hr", 80.0, utc(2013, 1, 22, 13, 41))],  # no OBX-14, no OBR: MSH-7, no offset, so decode()'s tz, UTC
        {"unmapped": 1, "unmapped:150033": 1},  # arterial systolic pressure
    ),
    "philips": (
        SAMPLE_PHILIPS,
        [("sbp", 122.0, utc(2014, 5, 10, 12, 44, 30)), ("spo2", 98.0, utc(2014, 5, 10, 12, 44))],
        {},
    ),
}
FRAMES = {name: frame(text) for name, (text, _, _) in SAMPLES.items()}


def decode(*chunks: bytes, tz=UTC) -> tuple[list, Hl7MllpDecoder]:
    """Readings from a fresh decoder. Its zone is UTC unless given: GE and Philips send times without an
    offset, which the decoder's own default (tz=None) refuses."""
    decoder = Hl7MllpDecoder(tz=tz)
    decoder.start()
    items = [item for chunk in chunks for item in decoder.feed(chunk)]
    return items, decoder


def message(*obx: str, msh_time: str = "20130122134100", modes: str = "NE|AL", kind: str = "ORU^R01") -> bytes:
    """A framed message with the given OBX segments, in GE B40 style."""
    head = f"MSH|^~\\&|VSP|GE Healthcare|||{msh_time}||{kind}|CID42|P|2.6|||{modes}"
    return frame("\n".join([head, *obx]))


def obx(code: str, value: str, unit: str = "", status: str = "R", when: str = "", kind: str = "NM") -> str:
    return f"OBX|1|{kind}|{code}|1.1.1.1|{value}|{unit}|||||{status}|||{when}"


def assert_sane(items: list) -> None:
    """What every decoder output must satisfy, whatever the input."""
    for r in items:
        assert isinstance(r, Reading)
        assert VITALS[r.vital].plausible(r.value)
        assert r.time.tzinfo is not None and r.time.utcoffset() is not None
        assert r.device_time == r.time


# --- the published samples -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_decodes_to_exact_readings_and_counts_the_rest(name: str) -> None:
    _, expected, skipped = SAMPLES[name]
    items, decoder = decode(FRAMES[name])
    assert summary(items) == expected
    base = {"frames": 1, "valid_frames": 1, "messages": 1, "readings": len(expected)}
    assert dict(decoder.stats) == base | skipped | {"acks": 1}  # NE|AL, AL|NE or original mode: one ACK each
    assert_sane(items)


def test_readings_carry_source_device_time_and_nibp_measurement_time() -> None:
    items, _ = decode(FRAMES["philips"])
    sbp, spo2 = items
    assert (sbp.source, sbp.device_time, sbp.measured_at) == ("hl7-mllp", sbp.time, sbp.time)
    assert (spo2.device_time, spo2.measured_at) == (spo2.time, None)
    assert Hl7MllpDecoder(source="bed-3").feed(FRAMES["b"])[0].source == "bed-3"


def test_time_without_offset_is_interpreted_in_the_decoders_zone() -> None:
    items, _ = decode(FRAMES["d"], tz=ZoneInfo("Europe/Berlin"))
    assert summary(items) == [("hr", 80.0, utc(2013, 1, 22, 12, 41))]
    items, _ = decode(FRAMES["d"], tz=UTC)
    assert summary(items) == SAMPLES["d"][1]


@pytest.mark.parametrize(("name", "refused"), [("d", 1), ("philips", 2)])
def test_time_without_offset_and_no_zone_is_never_guessed(name: str, refused: int) -> None:
    items, decoder = decode(FRAMES[name], tz=None)
    assert items == []
    assert decoder.stats["no_offset_times"] == refused
    assert decoder.stats["bad_time"] == 0  # one reason per skipped OBX
    assert msa_codes(decoder.pending_output()) == ["AA"]  # the message itself was fine
    assert Hl7MllpDecoder().tz is None  # the default


def test_without_a_zone_only_offset_less_times_are_refused() -> None:
    items, decoder = decode(
        message(
            obx("150021^X^MDC", "120", when="20130122134100+0100"),  # offset on OBX-14: fine
            obx("150022^X^MDC", "80"),  # MSH-7 without offset
            obx("147842^X^MDC", "70", when="20130230134100"),  # impossible date: bad whatever the offset
            obx("150456^X^MDC", "97", when="2013012213"),  # malformed
        ),
        tz=None,
    )
    assert summary(items) == [("sbp", 120.0, utc(2013, 1, 22, 12, 41))]
    assert (decoder.stats["no_offset_times"], decoder.stats["bad_time"]) == (1, 2)
    items, decoder = decode(message(obx("150022^X^MDC", "80"), msh_time="20130122134100-0500"), tz=None)
    assert summary(items) == [("dbp", 80.0, utc(2013, 1, 22, 18, 41))]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_two_chunk_split_and_byte_by_byte_feeding_decode_identically(name: str) -> None:
    data = FRAMES[name]
    whole, reference = decode(data)
    ack = reference.pending_output()
    for cut in range(len(data) + 1):
        items, decoder = decode(data[:cut], data[cut:])
        assert items == whole, cut
        assert decoder.stats == reference.stats
        assert decoder.pending_output() == ack
    items, decoder = decode(*(data[i : i + 1] for i in range(len(data))))
    assert items == whole
    assert decoder.stats == reference.stats


# --- framing: noise, truncation, corruption ------------------------------------------------------------------


def test_noise_between_frames_is_skipped_and_counted() -> None:
    rng = random.Random(7)
    noise = [bytes(b for b in rng.randbytes(200) if b != 0x0B) for _ in range(3)]
    stray = b"\x1c\r\x1c\x1c\r\rMSH|^~\\&|\x1c"  # frame ends and message text with no frame start
    items, decoder = decode(noise[0], FRAMES["a"], stray, noise[1], FRAMES["b"], noise[2])
    assert summary(items) == SAMPLES["a"][1] + SAMPLES["b"][1]
    assert decoder.stats["noise_bytes"] == sum(map(len, noise)) + len(stray)
    assert decoder.stats["messages"] == 2


def test_truncated_frame_is_dropped_and_the_next_one_decodes() -> None:
    cut = FRAMES["a"][: len(FRAMES["a"]) // 2]
    items, decoder = decode(cut, FRAMES["b"])
    assert summary(items) == SAMPLES["b"][1]
    assert (decoder.stats["truncated_frames"], decoder.stats["frames"], decoder.stats["noise_bytes"]) == (1, 1, 0)


def test_frame_end_without_carriage_return_is_refused() -> None:
    broken = FRAMES["a"][:-1] + b"X"
    items, decoder = decode(broken, FRAMES["b"])
    assert summary(items) == SAMPLES["b"][1]
    assert (decoder.stats["bad_frames"], decoder.stats["noise_bytes"]) == (1, 1)


def test_oversized_frame_is_abandoned_without_growing_memory() -> None:
    items, decoder = decode(SB + b"A" * (MAX_FRAME // 2), b"A" * (MAX_FRAME // 2 + 1), b"tail", FRAMES["b"])
    assert summary(items) == SAMPLES["b"][1]
    assert decoder.stats["oversized_frames"] == 1
    assert decoder.stats["noise_bytes"] == len(b"tail")  # the chunk that overflowed is dropped with the frame


def test_start_drops_a_partial_frame_and_unsent_acks() -> None:
    decoder = Hl7MllpDecoder()
    decoder.feed(FRAMES["d"])
    decoder.feed(FRAMES["a"][:100])
    decoder.start()
    assert decoder.pending_output() == b""
    assert decoder.feed(FRAMES["a"][100:]) == []  # no frame start: noise
    assert summary(decoder.feed(FRAMES["b"])) == SAMPLES["b"][1]
    assert decoder.stats["truncated_frames"] == 1


def test_segment_separators_lf_and_crlf_are_tolerated() -> None:
    text = SAMPLE_A.strip("\n")
    for sep in ("\n", "\r\n"):
        items, _ = decode(SB + text.replace("\n", sep).encode() + EB + CR)
        assert summary(items) == SAMPLES["a"][1]


def test_unreadable_frames_and_other_message_types_yield_nothing() -> None:
    items, decoder = decode(
        SB + EB + CR, frame("hello"), message(kind="ADT^A01"), message(obx("150021^X^MDC", "120"), "not a segment")
    )
    assert items == []
    assert (decoder.stats["frames"], decoder.stats["bad_messages"], decoder.stats["messages"]) == (4, 4, 0)


# --- OBX mapping, units, values, times --------------------------------------------------------------------


def test_mdil_alternate_identifier_and_mdc_aliases_map_through_the_one_table() -> None:
    items, decoder = decode(
        message(
            obx("0002-4bb8^SpO2^MDIL", "97", "0004-0220^%^MDIL"),
            obx("X1^local pulse^99LOC^149538^MDC_PULS_OXIM_PULS_RATE^MDC", "71", "/min"),
            obx("151570^MDC_AWAY_RESP_RATE^MDC", "14", "264928^MDC_DIM_RESP_PER_MIN^MDC"),
            obx("X2^local thing^99LOC", "3"),
            obx("", "3"),
        )
    )
    assert [(r.vital, r.value) for r in items] == [("spo2", 97.0), ("pr", 71.0), ("rr", 14.0)]
    assert (decoder.stats["unmapped:X2^local thing^99LOC"], decoder.stats["unmapped:none"]) == (1, 1)


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [
        ("150021", "120", "", 120.0),
        ("150021", "120", "mmHg", 120.0),
        ("150021", "120", "0004-0f20^mmHg^MDIL", 120.0),
        ("150021", "16", "kPa^kPa^UCUM", 16 * 1000 / 133.322387415),
        ("147842", "61", "{beats}/min^^UCUM", 61.0),
        ("147842", "61", "/min", 61.0),
        ("149530", "62", "0004-0aa0^bpm^MDIL", 62.0),
        ("151562", "12", "{breath}/min", 12.0),
        ("151562", "12", "/min^/min^UCUM", 12.0),
        ("150456", "+099.50", "262688^MDC_DIM_PERCENT^MDC", 99.5),
    ],
)
def test_accepted_units(code: str, value: str, unit: str, expected: float) -> None:
    items, _ = decode(message(obx(f"{code}^X^MDC", value, unit)))
    assert [r.value for r in items] == [expected]


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        ("150021", "%"),
        ("150021", "262688^MDC_DIM_PERCENT^MDC"),
        ("150456", "kPa"),
        ("147842", "{breath}/min"),
        ("151562", "264864^MDC_DIM_BEAT_PER_MIN^MDC"),
        ("150021", "262656^MDC_DIM_DIMLESS^MDC"),
        ("150021", "mmHg^mmHg^LOCAL"),
        ("150021", "cm[H2O]"),
    ],
)
def test_unit_that_contradicts_the_vital_is_skipped_not_converted(code: str, unit: str) -> None:
    items, decoder = decode(message(obx(f"{code}^X^MDC", "50", unit)))
    assert items == []
    assert decoder.stats["unit_mismatch"] == 1


HUGE = "9" * 4301  # past int()'s 4300-digit limit: no MDC code (a 32-bit number) is that long


@pytest.mark.parametrize(
    ("code", "unit", "reason"),
    [
        (f"{HUGE}^X^MDC", "", "unmapped"),
        (f"X1^local^99LOC^{HUGE}^X^MDC", "", "unmapped"),  # the alternate identifier
        ("150021^X^MDC", f"{HUGE}^X^MDC", "unit_mismatch"),
        (f"{'0' * 5000}150021^X^MDC", "", None),  # leading zeros: still the systolic pressure's code
        ("4294967296^X^MDC", "", "unmapped"),  # 2**32: past the largest MDC code
        (f"{'1' * 20000}^X^MDC", f"{'2' * 20000}^X^MDC", "unmapped"),
    ],
    ids=["obx-3", "alternate-identifier", "obx-6", "leading-zeros", "2**32", "both-20000-digits"],
)
def test_an_over_long_numeric_code_is_counted_not_raised(code: str, unit: str, reason: str | None) -> None:
    items, decoder = decode(message(obx(code, "120", unit), obx("147842^X^MDC", "80")), FRAMES["b"])
    expected = [("hr", 80.0)] if reason else [("sbp", 120.0), ("hr", 80.0)]
    assert [(r.vital, r.value) for r in items] == [*expected, ("spo2", 80.5)]  # and the next message decodes
    if reason:
        assert decoder.stats[reason] == 1
    assert all(len(key) < 60 for key in decoder.stats)  # an unmapped code is named by at most 40 characters


@pytest.mark.parametrize("value", ["351", "-1", "abc", "NaN", "inf", "1e2", "1" * 400, "12^3", "1,5"])
def test_implausible_or_non_numeric_values_are_never_emitted(value: str) -> None:
    items, decoder = decode(message(obx("150021^X^MDC", value)))
    assert items == []
    assert decoder.stats["implausible"] == 1


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (obx("150021^X^MDC", "", status="R"), "no_value"),
        (obx("150021^X^MDC", "120", status="X"), "no_value"),
        (obx("150021^X^MDC", "120", status="W"), "bad_status"),
        (obx("150021^X^MDC", "120", status="D"), "bad_status"),
        (obx("150021^X^MDC", "120", kind="ST"), "non_numeric"),
        (obx("150021^X^MDC", "120", when="201301221341"), None),
        (obx("150021^X^MDC", "120", when="2013012213"), "bad_time"),
        (obx("150021^X^MDC", "120", when="20130230134100"), "bad_time"),
        (obx("150021^X^MDC", "120", when="20130122134100+2500"), "bad_time"),
        (obx("150021^X^MDC", "120", when="20130122134100+0160"), "bad_time"),
        (obx("150021^X^MDC", "120", when="20130122134100.1234567"), "bad_time"),
        # Beyond any monitor's clock, and where arithmetic on them would overflow (base.EARLIEST/LATEST_TIME)
        (obx("150021^X^MDC", "120", when="00010101000000+0000"), "bad_time"),
        (obx("150021^X^MDC", "120", when="18991231235959+0000"), "bad_time"),
        (obx("150021^X^MDC", "120", when="19000101000000+0000"), None),
        (obx("150021^X^MDC", "120", when="29991231235959+0000"), None),
        (obx("150021^X^MDC", "120", when="30000101000000+0000"), "bad_time"),
        (obx("150021^X^MDC", "120", when="99991231235959+0000"), "bad_time"),
    ],
)
def test_skipped_observations_are_counted_by_reason(field: str, reason: str | None) -> None:
    items, decoder = decode(message(field))
    assert len(items) == (1 if reason is None else 0)
    if reason:
        assert decoder.stats[reason] == 1


def test_bad_message_time_only_costs_the_observations_that_need_it() -> None:
    late = obx("150022^X^MDC", "80", when="20130122134100.25-0130")
    items, decoder = decode(message(obx("150021^X^MDC", "120"), late, msh_time="yesterday"))
    assert summary(items) == [("dbp", 80.0, datetime(2013, 1, 22, 15, 11, 0, 250000, tzinfo=UTC))]
    assert decoder.stats["bad_time"] == 1


def test_same_vital_twice_at_one_instant_keeps_the_first() -> None:
    items, decoder = decode(
        message(
            obx("150021^X^MDC", "120", when="20130122134100"),
            obx("150021^X^MDC", "125", when="20130122134100"),
            obx("150021^X^MDC", "130", when="20130122134200"),
        )
    )
    assert [r.value for r in items] == [120.0, 130.0]
    assert decoder.stats["duplicates"] == 1


# --- NIBP: once per measurement --------------------------------------------------------------------------


def nibp(sbp: str, dbp: str, mean: str, when: str = "") -> list[str]:
    return [
        obx("150021^X^MDC", sbp, "mmHg", when=when),
        obx("150022^X^MDC", dbp, "mmHg", when=when),
        obx("150023^X^MDC", mean, "mmHg", when=when),
    ]


def test_nibp_repeated_with_the_same_measurement_time_is_emitted_once() -> None:
    items, decoder = decode(*[FRAMES["a"]] * 5)  # sample (a): time from OBR-7
    assert summary(items) == SAMPLES["a"][1]
    assert decoder.stats["nibp_repeats"] == 4 * 3
    assert decoder.stats["readings"] == 3
    assert msa_codes(decoder.pending_output()) == ["AA"] * 5  # every message is still acknowledged

    hr = obx("147842^X^MDC", "70")
    pushes = [message(*nibp("120", "80", "93", when=f"201301221340{s:02d}"), hr) for s in (0, 5)]
    items, decoder = decode(*[pushes[0]] * 5, pushes[1])  # OBX-14 times; then the same values measured anew
    nibp_items = [(r.vital, r.value, r.time) for r in items if r.vital != "hr"]
    assert nibp_items == [
        (vital, value, utc(2013, 1, 22, 13, 40, second))
        for second in (0, 5)
        for vital, value in (("sbp", 120.0), ("dbp", 80.0), ("map", 93.0))
    ]
    assert decoder.stats["nibp_repeats"] == 4 * 3
    assert [r.value for r in items if r.vital == "hr"] == [70.0] * 6  # continuous vitals: every message


def test_nibp_with_only_the_message_time_is_a_repeat_when_its_value_is() -> None:
    def push(second: int, *values: str) -> bytes:
        return message(*nibp(*values), obx("147842^X^MDC", "70"), msh_time=f"201301221340{second:02d}+0000")

    items, decoder = decode(push(0, "120", "80", "93"), push(5, "120", "80", "93"), push(10, "125", "80", "95"))
    assert summary(items) == [
        ("sbp", 120.0, utc(2013, 1, 22, 13, 40, 0)),
        ("dbp", 80.0, utc(2013, 1, 22, 13, 40, 0)),
        ("map", 93.0, utc(2013, 1, 22, 13, 40, 0)),
        ("hr", 70.0, utc(2013, 1, 22, 13, 40, 0)),
        ("hr", 70.0, utc(2013, 1, 22, 13, 40, 5)),
        ("sbp", 125.0, utc(2013, 1, 22, 13, 40, 10)),  # a new value: a new measurement, per vital
        ("map", 95.0, utc(2013, 1, 22, 13, 40, 10)),
        ("hr", 70.0, utc(2013, 1, 22, 13, 40, 10)),
    ]
    assert decoder.stats["nibp_repeats"] == 3 + 1


def test_nibp_memory_survives_a_reconnect_and_counts_only_emitted_readings() -> None:
    decoder = Hl7MllpDecoder(tz=UTC)
    assert len(decoder.feed(FRAMES["a"])) == 3
    decoder.start()
    assert decoder.feed(FRAMES["a"]) == []
    assert decoder.stats["nibp_repeats"] == 3

    # a refused reading is not "the last emitted": the next one with its time still comes through
    first = message(obx("150021^X^MDC", "120", status="W", when="20130122134000"))
    again = message(obx("150021^X^MDC", "121", status="C", when="20130122134000"))
    items, decoder = decode(first, again)
    assert [r.value for r in items] == [121.0]
    assert decoder.stats["nibp_repeats"] == 0


def test_a_restarted_decoder_told_the_recorded_measurement_does_not_emit_its_repeats() -> None:
    """A new process after a crash: the device still pushes the last cuff result, as recorded before."""
    recorded = [r for r in Hl7MllpDecoder(tz=UTC).feed(FRAMES["a"]) if isinstance(r, Reading)]
    assert len(recorded) == 3
    restarted = Hl7MllpDecoder(tz=UTC)
    restarted.resume(recorded)
    assert restarted.feed(FRAMES["a"]) == []
    assert restarted.stats["nibp_repeats"] == 3
    assert len(Hl7MllpDecoder(tz=UTC).feed(FRAMES["a"])) == 3  # a decoder not told takes it for new


def test_nibp_same_time_other_value_keeps_the_first() -> None:
    items, decoder = decode(
        message(obx("150021^X^MDC", "120", when="20130122134000")),
        message(obx("150021^X^MDC", "124", when="20130122134000")),
    )
    assert [r.value for r in items] == [120.0]
    assert decoder.stats["nibp_repeats"] == 1


# --- watchdog: every HL7 frame proves the line settings --------------------------------------------------


def test_valid_frames_counts_every_well_terminated_hl7_frame_whatever_its_type() -> None:
    hl7_frames = [
        FRAMES["b"],
        message(kind="ADT^A01"),  # wrong message type
        frame("MSH|^~\\&|VSP||||20130122134100||ACK^R01|1|P|2.6\nMSA|AA|1"),  # an ACK
        message(obx("147842^X^MDC", "80"), "not a segment"),  # unreadable after the header
        message(obx("147842^X^MDC", "80"), msh_time="20130122134100"),  # no offset, no zone: no reading
    ]
    not_hl7 = [
        SB + EB + CR,  # empty frame
        frame("hello"),  # no MSH header
        FRAMES["a"][:-1] + b"X",  # 0x1C without 0x0D
        b"MSH|^~\\&|" + EB + CR,  # no frame start: noise
        FRAMES["a"][:50],  # truncated by the next 0x0B
    ]
    decoder = Hl7MllpDecoder()
    counts = []
    for data in not_hl7 + hl7_frames:
        decoder.feed(data)
        counts.append(decoder.stats["valid_frames"])
    assert counts == [0] * len(not_hl7) + list(range(1, len(hl7_frames) + 1))
    assert decoder.stats["frames"] == len(hl7_frames) + 2  # the empty frame and "hello" were frames too

    decoder = Hl7MllpDecoder()
    decoder.feed(FRAMES["c"][:40])
    assert decoder.stats["valid_frames"] == 0  # not before the frame is complete
    decoder.feed(FRAMES["c"][40:-1])
    assert decoder.stats["valid_frames"] == 0  # nor before its final 0x0D
    decoder.feed(FRAMES["c"][-1:])
    assert decoder.stats["valid_frames"] == 1


# --- nothing the decoder keeps grows with its input --------------------------------------------------------


def test_unmapped_codes_are_counted_with_a_bounded_sample_of_their_names() -> None:
    decoder = Hl7MllpDecoder(tz=UTC)
    n = 5000
    for i in range(n):
        decoder.feed(message(obx(f"{900000 + i}^X^MDC", "1")))
        decoder.pending_output()
    decoder.feed(message(obx("900000^X^MDC", "1")))  # a code named in the sample keeps its own count
    named = {key: count for key, count in decoder.stats.items() if key.startswith("unmapped:")}
    assert decoder.stats["unmapped"] == n + 1
    assert len(named) == UNMAPPED_SAMPLE
    assert named["unmapped:900000"] == 2 and "unmapped:900031" in named and "unmapped:900032" not in named
    assert len(decoder.stats) < 2 * UNMAPPED_SAMPLE


def test_an_unmapped_code_is_named_in_printable_characters_only() -> None:
    _, decoder = decode(message(obx("X\x1b[2J\x07^local^99LOC", "3")))  # `vigil decode` prints the name
    assert decoder.stats["unmapped:X?[2J?^local^99LOC"] == 1


def test_acks_nobody_collects_stop_queueing_and_are_counted() -> None:
    decoder = Hl7MllpDecoder()
    data = message(obx("147842^X^MDC", "80"))
    n = MAX_FRAME // 80  # an ACK of this message is over 80 bytes
    for _ in range(n):
        decoder.feed(data)
    queued = decoder.pending_output()
    assert MAX_FRAME < len(queued) < MAX_FRAME + 200
    assert decoder.stats["acks"] + decoder.stats["unsent_acks"] == n and decoder.stats["unsent_acks"] > 0
    assert msa_codes(queued) == ["AA"] * decoder.stats["acks"]
    decoder.feed(data)
    assert msa_codes(decoder.pending_output()) == ["AA"]  # collected: queueing resumes


# --- acknowledgements -------------------------------------------------------------------------------------


def test_ack_echoes_the_header_swapped_and_parses_as_hl7() -> None:
    _, decoder = decode(FRAMES["a"])
    ack = decoder.pending_output()
    assert ack == (
        b"\x0bMSH|^~\\&|||AcmeInc^ACDE48234567ABCD^EUI-64||20090713090030+0500||ACK^R01^ACK|MSGID1234|P|2.6"
        b"\rMSA|AA|MSGID1234\r\x1c\r"
    )
    assert decoder.pending_output() == b""
    parsed = hl7.parse(ack[1:-2].decode())
    assert str(parsed.segment("MSA")[1]) == "AA"
    assert str(parsed.segment("MSA")[2]) == "MSGID1234"
    assert str(parsed.segment("MSH")[5]) == "AcmeInc^ACDE48234567ABCD^EUI-64"


def msa_codes(output: bytes) -> list[str]:
    return [seg.split("|")[1] for seg in output.decode("latin-1").split("\r") if seg.startswith("MSA")]


@pytest.mark.parametrize(
    ("modes", "kind", "expected"),
    [
        ("NE|AL", "ORU^R01", ["AA"]),  # PCD-01 style: application ACK only
        ("NE|NE", "ORU^R01", []),
        ("|", "ORU^R01", ["AA"]),  # original mode
        ("|", "ADT^A01", ["AR"]),
        ("AL|NE", "ORU^R01", ["CA"]),  # sample (c): commit ACK only
        ("AL|AL", "ORU^R01", ["CA", "AA"]),
        ("ER|ER", "ORU^R01", []),
        ("ER|ER", "ADT^A01", ["CR", "AR"]),
        ("SU|SU", "ORU^R01", ["CA", "AA"]),
        ("NE|XX", "ORU^R01", []),
        ("AL|AL", "ACK^R01", []),  # acknowledgements are never acknowledged
    ],
)
def test_ack_modes(modes: str, kind: str, expected: list[str]) -> None:
    _, decoder = decode(message(obx("147842^X^MDC", "80"), modes=modes, kind=kind))
    assert msa_codes(decoder.pending_output()) == expected
    assert decoder.stats["acks"] == len(expected)


def test_unreadable_message_with_a_control_id_gets_an_application_error() -> None:
    _, decoder = decode(message(obx("147842^X^MDC", "80"), "##garbled"))
    assert msa_codes(decoder.pending_output()) == ["AE"]


def test_no_ack_without_a_control_id() -> None:
    _, decoder = decode(frame("MSH|^~\\&|VSP||||20130122134100||ORU^R01||P|2.6"))
    assert decoder.pending_output() == b""
    assert decoder.stats["unacknowledgeable"] == 1


# --- encoder ----------------------------------------------------------------------------------------------

T0 = datetime(2024, 3, 1, 9, 30, 0, 120000, tzinfo=UTC)


def test_encoded_message_is_byte_exact_pcd01() -> None:
    data = encode_oru([Reading(T0, "sbp", 121.0), Reading(utc(2024, 3, 1, 9, 29, 58), "spo2", 96.5)], control_id="7")
    assert data == (
        b"\x0bMSH|^~\\&|VIGIL_SIM||||20240301092958+0000||ORU^R01^ORU_R01|7|P|2.6|||NE|AL|||||"
        b"IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
        b"PID\r"
        b"OBR|1|7^VIGIL_SIM|7^VIGIL_SIM|182777000^monitoring of patient^SNOMED-CT|||20240301092958+0000\r"
        b"OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.0.0.1|121|266016^MDC_DIM_MMHG^MDC|||||R|||"
        b"20240301093000.12+0000\r"
        b"OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.2|96.5|262688^MDC_DIM_PERCENT^MDC|||||R|||"
        b"20240301092958+0000\r\x1c\r"
    )
    parsed = hl7.parse(data[1:-2].decode())
    assert str(parsed.segment("MSH")[9]) == "ORU^R01^ORU_R01"
    assert [str(s[3][0][0]) for s in parsed.segments("OBX")] == ["150021", "150456"]


def test_every_vital_encodes_with_an_mdc_unit_and_round_trips() -> None:
    readings = [Reading(T0, code, VITALS[code].low + 0.25) for code in VITAL_CODES]
    decoder = Hl7MllpDecoder()
    items = decoder.feed(encode_oru(readings, control_id="all"))
    assert summary(items) == summary(readings)
    assert msa_codes(decoder.pending_output()) == ["AA"]


@pytest.mark.parametrize(
    ("readings", "kwargs"),
    [
        ([], {"control_id": "1"}),
        ([Reading(T0, "hr", 70), Reading(utc(2024, 1, 1), "hr", 71)], {"control_id": "1"}),
        ([Reading(T0, "hr", 70)], {"control_id": ""}),
        ([Reading(T0, "hr", 70)], {"control_id": "a|b"}),
        ([Reading(T0, "hr", 70)], {"control_id": "1", "sender": "VIGIL^SIM"}),
        ([Reading(T0, "hr", 70)], {"control_id": "1\r"}),
    ],
)
def test_encoder_refuses_callers_bugs(readings: list[Reading], kwargs: dict) -> None:
    with pytest.raises(ValueError):
        encode_oru(readings, **kwargs)


@st.composite
def plausible_readings(draw: st.DrawFn) -> list[Reading]:
    codes = draw(st.lists(st.sampled_from(VITAL_CODES), unique=True, min_size=1))
    times = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    return [Reading(draw(times), code, draw(st.floats(VITALS[code].low, VITALS[code].high))) for code in codes]


@settings(max_examples=150, deadline=None)
@given(
    plausible_readings(),
    st.text(st.characters(min_codepoint=33, max_codepoint=122, exclude_characters="^\\|&"), min_size=1, max_size=20),
)
def test_encode_decode_round_trip_is_exact_and_deterministic(readings: list[Reading], control_id: str) -> None:
    data = encode_oru(readings, control_id=control_id)
    assert encode_oru(readings, control_id=control_id) == data
    items, decoder = decode(data)
    assert summary(items) == summary(readings)
    assert msa_codes(decoder.pending_output()) == ["AA"]


# --- fuzz -------------------------------------------------------------------------------------------------

BYTES_OF_INTEREST = st.sampled_from([0x0B, 0x1C, 0x0D, 0x0A, *b"|^~\\&.+-0123456789XNM"])


@st.composite
def mutated_frame(draw: st.DrawFn) -> bytes:
    data = bytearray(FRAMES[draw(st.sampled_from(sorted(FRAMES)))])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        byte = draw(st.one_of(BYTES_OF_INTEREST, st.integers(0, 255)))
        match draw(st.sampled_from(["flip", "insert", "delete", "truncate"])):
            case "flip" if at < len(data):
                data[at] = byte
            case "insert":
                data.insert(at, byte)
            case "delete" if at < len(data):
                del data[at]
            case "truncate":
                del data[at:]
    return bytes(data)


# Sample (c) measured at an instant no sample has, so the NIBP memory of frames before it (a mutated (c) may
# well decode) cannot take it for a repeat; a few mutated bytes cannot turn any sample's times into this one.
RESYNC_FRAME = FRAMES["c"].replace(b"20110602045842", b"20240301093000")
RESYNC_READINGS = [(vital, value, utc(2024, 3, 1, 9, 30)) for vital, value, _ in SAMPLES["c"][1]]


def assert_resynchronises(decoder: Hl7MllpDecoder) -> None:
    """Whatever came before, a clean frame decodes to exactly its readings."""
    assert summary(decoder.feed(RESYNC_FRAME)) == RESYNC_READINGS


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(0, 2000))
def test_random_bytes_never_raise(data: bytes, cut: int) -> None:
    decoder = Hl7MllpDecoder()
    assert_sane(decoder.feed(data[:cut]) + decoder.feed(data[cut:]))
    decoder.pending_output()
    assert_resynchronises(decoder)


@settings(max_examples=300, deadline=None)
@given(st.lists(mutated_frame(), min_size=1, max_size=3), st.integers(1, 64))
def test_mutated_real_frames_never_raise_nor_emit_implausible_readings(frames: list[bytes], chunk: int) -> None:
    decoder = Hl7MllpDecoder(tz=ZoneInfo("America/New_York"))
    data = b"".join(frames)
    items = [item for i in range(0, len(data), chunk) for item in decoder.feed(data[i : i + chunk])]
    assert_sane(items)
    assert all(n >= 0 for n in decoder.stats.values())
    assert_resynchronises(decoder)


def test_module_contract() -> None:
    decoder: Decoder = Hl7MllpDecoder()
    assert decoder.feed(b"") == []
    assert LINE_SETTINGS.describe() == "9600 8N1"
