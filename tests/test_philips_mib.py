"""The Philips IntelliVue MIB/RS-232 protocol (`philips-mib`): framing, PDUs and the decoder, byte for byte
against the layouts and frames in the Data Export research (frames with FCS derived from VSCaptureMP's
canned requests and checked against a real capture's FCS), and frames built to probe each rule."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.model.reading import Reading
from adapters.protocols.philips_mib.decoder import (
    KEEPALIVE_S,
    NIBP_FRESH_S,
    RENEW_S,
    PhilipsMibDecoder,
)
from adapters.protocols.philips_mib.emulator import PhilipsMibMonitor
from adapters.protocols.philips_mib.encode import (
    AARE,
    mds_create_event,
    nu_value,
    observation,
    poll_result,
    poll_results,
)
from adapters.protocols.philips_mib.framing import BOF, EOF, Deframer, escape, fcs, frame, unescape
from adapters.protocols.philips_mib.pdu import (
    AARQ,
    ABRT,
    RF_SPDU,
    RLRQ,
    RLRS,
    MdsCreate,
    PollResult,
    decode_abs_time,
    decode_float,
    encode_float,
    ext_poll_request,
    mds_create_result,
    parse_data,
    parse_observation,
)
from adapters.simulation import load_scenario

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


# -- PDUs --

EXT_POLL_30S = bytes.fromhex(  # VSCaptureMP ext_poll_request_msg5: numerics, NOM_ATTR_TIME_PD_POLL = 30 s
    "e1 00 00 02 00 01 00 28 00 01 00 07 00 22 00 21 00 00 00 00 00 00 00 00"
    " f1 3b 00 14 00 01 00 01 00 06 00 00 00 01 00 08 f1 3e 00 04 00 03 a9 80")
HR, SPO2, PLETH_PR, NIBP, SYS, DIA, MEAN = 0x4182, 0x4BB8, 0x4822, 0x4A04, 0x4A05, 0x4A06, 0x4A07
BPM, PERCENT, MMHG = 0x0AA0, 0x0220, 0x0F20


def test_canned_requests_are_encoded_byte_for_byte() -> None:
    assert len(AARQ) == 238
    assert AARQ[:22] == bytes.fromhex("0d ec 05 08 13 01 00 16 01 02 80 00 14 02 00 02 c1 dc 31 80 a0 80")
    assert mds_create_result(1, 0x000ABD00) == MDS_CREATE_RESULT
    assert ext_poll_request(1, 1, None) == EXT_POLL
    assert ext_poll_request(1, 1, 0x0003A980) == EXT_POLL_30S
    assert frame(EXT_POLL_30S)[-3:] == bytes.fromhex("58 71 c1")


@pytest.mark.parametrize(("exponent", "mantissa", "value"), [
    (-3, 32000, 32), (-1, 320, 32), (1, 320, 3200), (2, 32, 3200), (2, 1234, 123400), (-1, -5000, -500), (0, 60, 60),
])
def test_float_type_book_vectors(exponent: int, mantissa: int, value: float) -> None:
    word = ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF)
    assert decode_float(word) == pytest.approx(value)
    assert decode_float(encode_float(value)) == pytest.approx(value)


@pytest.mark.parametrize(("word", "value"),
                         [(0xFD007D00, 32), (0xFF000140, 32), (0x01000140, 3200), (0x02000020, 3200)])
def test_float_type_words_of_the_intellivue_api_tests(word: int, value: float) -> None:
    """The 32-bit words Koshsky/Intellivue-api's FLOAT test decodes (the programming guide's examples)."""
    assert decode_float(word) == pytest.approx(value)


@pytest.mark.parametrize("word", [0x007FFFFF, 0x027FFFFF, 0xFF7FFFFF, 0x00800000, 0xFE800000, 0x007FFFFE,
                                  0x017FFFFE, 0x00800002, 0xFF800002])
def test_float_special_values_are_read_from_the_mantissa_whatever_the_exponent(word: int) -> None:
    assert decode_float(word) is None


def test_absolute_time_is_bcd_and_all_ff_is_none() -> None:
    assert decode_abs_time(bytes.fromhex("20 21 04 22 11 47 26 00")) == datetime(2021, 4, 22, 11, 47, 26)
    assert decode_abs_time(b"\xff" * 8) is None
    assert decode_abs_time(bytes.fromhex("20 21 13 40 11 47 26 00")) is None  # month 13


def test_documented_hr_and_unavailable_nibp_observations() -> None:
    """The HR and NBP attributes of the research notes' worked example (§2.6), in ObservationPolls."""
    hr = bytes.fromhex("0001 0001 000e 0950 000a 4182 0000 0aa0 0000003c")
    obs = parse_observation(hr)
    assert [(v.physio_id, v.state, v.unit_code, v.value, v.measured) for v in obs.values] == [(HR, 0, BPM, 60, True)]
    nbp = bytes.fromhex("0002 0002 0032 0990 0008 20 21 03 29 12 46 18 00"
                        " 094b 0022 0003 001e 4a05 2000 0f20 007fffff 4a06 2000 0f20 007fffff 4a07 2000 0f20 007fffff")
    obs = parse_observation(nbp)
    assert obs.stamp == datetime(2021, 3, 29, 12, 46, 18)
    assert [v.physio_id for v in obs.compound] == [SYS, DIA, MEAN]
    assert not any(v.measured for v in obs.compound)


# -- the decoder --

T0 = datetime(2026, 3, 2, 9, 0, 0)  # the monitor's local clock at its MDS create
REL0 = 0xFFFF0000  # relative time at the MDS create: wraps within the first seconds


def ticks(seconds: float) -> int:
    return (REL0 + round(seconds * 8000)) % (1 << 32)


BERLIN = ZoneInfo("Europe/Berlin")


def associated(tz: ZoneInfo | None = BERLIN) -> PhilipsMibDecoder:
    d = PhilipsMibDecoder("mp50", tz)
    d.start()
    assert d.pending_output() == frame(AARQ)
    assert d.feed(frame(AARE)) == []
    d.feed(frame(mds_create_event(7, 0x1234, T0, REL0)))
    assert d.pending_output() == frame(mds_create_result(7, 0x1234)) + frame(EXT_POLL_30S)
    return d


def vitals(hr: float = 60, spo2: float = 97, pr: float = 61, state: int = 0) -> list[bytes]:
    return [observation(1, HR, nu_value(HR, state, BPM, hr)),
            observation(2, SPO2, nu_value(SPO2, state, PERCENT, spo2)),
            observation(3, PLETH_PR, nu_value(PLETH_PR, state, BPM, pr))]


def nibp(stamp: datetime | None, values: tuple[float, float, float] = (120, 80, 93), state: int = 0) -> bytes:
    return observation(4, NIBP, compound=[nu_value(p, state, MMHG, v) for p, v in zip((SYS, DIA, MEAN), values,
                                                                                       strict=True)], stamp=stamp)


def at(seconds: float, tz: str = "Europe/Berlin") -> datetime:
    return (T0 + timedelta(seconds=seconds)).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_a_poll_result_gives_readings_on_the_mds_clock_across_the_relative_time_wrap() -> None:
    d = associated()
    items = d.feed(frame(poll_result(1, 1, ticks(9), vitals())))
    assert all(isinstance(i, Reading) for i in items)
    got = {(i.vital, i.value, i.time) for i in items if isinstance(i, Reading)}
    assert got == {("hr", 60, at(9)), ("spo2", 97, at(9)), ("pr", 61, at(9))}
    assert d.stats["valid_frames"] == 3 and d.stats["readings"] == 3


@pytest.mark.parametrize("state", [0x8000, 0x4000, 0x2000, 0x1000, 0x0800])
def test_state_bits_that_say_no_measurement_give_no_reading(state: int) -> None:
    d = associated()
    assert d.feed(frame(poll_result(1, 1, ticks(1), [*vitals(state=state), nibp(T0, state=state)]))) == []
    assert d.stats["not_measured"] == 6


def test_demo_data_and_alarm_bits_are_still_measurements() -> None:
    d = associated()
    assert len(d.feed(frame(poll_result(1, 1, ticks(1), vitals(state=0x0400 | 0x0002))))) == 3


def test_special_values_units_and_unknown_ids_are_counted_not_read() -> None:
    d = associated()
    obs = [observation(1, HR, nu_value(HR, 0, BPM, 0x027FFFFF)),  # NaN with exponent 2
           observation(2, SPO2, nu_value(SPO2, 0, BPM, 97)),  # wrong unit
           observation(3, 0x4BB0, nu_value(0x4BB0, 0, 0x0200, 1.5))]  # perfusion index: no vital
    assert d.feed(frame(poll_result(1, 1, ticks(1), obs))) == []
    assert (d.stats["not_measured"], d.stats["unexpected_units"], d.stats["unmapped_numerics"]) == (1, 1, 1)


def test_linked_results_first_middle_last_are_all_decoded() -> None:
    d = associated()
    frames = poll_results(1, 1, ticks(2), [*vitals(), nibp(T0 + timedelta(seconds=1))], max_bytes=40)
    states = [parse_data(f) for f in frames]
    assert [s.linked for s in states if isinstance(s, PollResult)] == [1, 2, 2, 3, 0]
    items = d.feed(b"".join(frame(f) for f in frames))
    assert sorted(i.vital for i in items if isinstance(i, Reading)) == ["dbp", "hr", "map", "pr", "sbp", "spo2"]


def test_nibp_once_per_measurement_at_its_own_time() -> None:
    d = associated()
    first, second = T0 + timedelta(seconds=-20), T0 + timedelta(seconds=40)
    out = []
    for s in range(0, 60, 1):
        stamp = first if s < 45 else second
        out += d.feed(frame(poll_result(1, 1, ticks(s), [nibp(stamp, (120 + (s >= 45), 80, 93))])))
    assert [(r.vital, r.value, r.time, r.measured_at) for r in out if isinstance(r, Reading)] == [
        ("sbp", 120, at(-20), at(-20)), ("dbp", 80, at(-20), at(-20)), ("map", 93, at(-20), at(-20)),
        ("sbp", 121, at(40), at(40)), ("dbp", 80, at(40), at(40)), ("map", 93, at(40), at(40))]
    assert d.stats["nibp_measurements"] == 2


def test_a_stale_nibp_and_the_one_recorded_before_a_restart_are_not_emitted_again() -> None:
    d = associated()
    old = T0 - timedelta(seconds=NIBP_FRESH_S + 5)
    assert d.feed(frame(poll_result(1, 1, ticks(1), [nibp(old)]))) == []
    assert d.stats["nibp_stale"] == 1
    recorded = PhilipsMibDecoder("mp50", ZoneInfo("Europe/Berlin"))
    recorded.resume([Reading(at(-10), "sbp", 120, measured_at=at(-10))])
    recorded.start()
    recorded.feed(frame(AARE) + frame(mds_create_event(1, 0, T0, REL0)))
    assert recorded.feed(frame(poll_result(1, 1, ticks(1), [nibp(T0 - timedelta(seconds=10))]))) == []


def test_polls_are_renewed_and_keep_alives_sent_on_the_device_clock() -> None:
    d = associated()
    sent = []
    for s in range(0, 31):
        d.feed(frame(poll_result(1, 1, ticks(s), vitals())))
        sent.append(d.pending_output())
    polls = [s for s, out in enumerate(sent) if out and EXT_POLL_30S[-8:] in Deframer(Counter()).feed(out)[0]]
    assert polls == [RENEW_S, 2 * RENEW_S, 3 * RENEW_S]
    keep = [s for s, out in enumerate(sent) if out and s not in polls]
    assert keep == [KEEPALIVE_S, RENEW_S + KEEPALIVE_S, 2 * RENEW_S + KEEPALIVE_S]
    assert d.stats["polls_sent"] == 4 and d.stats["keep_alives_sent"] == 3


def test_results_before_an_mds_create_are_not_timed_by_guess() -> None:
    d = PhilipsMibDecoder()
    d.start()
    assert d.feed(frame(AARE) + frame(poll_result(1, 1, 5, vitals()))) == []
    assert d.stats["results_before_mds_create"] == 1 and d.stats["valid_frames"] == 1


def test_refused_or_aborted_associations_are_not_a_live_link() -> None:
    d = associated()
    before = d.stats["valid_frames"]
    d.feed(frame(bytes((RF_SPDU, 0))) + frame(ABRT))
    assert d.feed(frame(poll_result(1, 1, ticks(1), vitals()))) == []  # no MDS clock after the abort
    assert d.stats["valid_frames"] == before
    assert d.stats["associations_refused"] == 1 and d.stats["associations_aborted"] == 1
    d.start()  # the link reopens after its watchdog: associate again
    assert d.pending_output() == frame(AARQ)


def test_without_a_zone_times_are_placed_as_utc_and_counted() -> None:
    d = associated(tz=None)
    items = d.feed(frame(poll_result(1, 1, ticks(1), vitals())))
    assert {i.time for i in items} == {at(1, "UTC")}
    assert d.stats["device_zone_unknown"] == 1


def test_corrupt_frames_between_results_cost_only_themselves() -> None:
    d = associated()
    good = frame(poll_result(1, 1, ticks(1), vitals()))
    bad = bytearray(good)
    bad[30] ^= 0xFF
    items = d.feed(bytes(bad) + good[:20] + good + b"\x00\x01" + good)
    assert len(items) == 6 and d.stats["checksum_failures"] + d.stats["unterminated"] == 2
    assert isinstance(parse_data(mds_create_event(1, 2, T0, 3)), MdsCreate)


# -- the emulator --


def conversation(seconds: float, answer: bool = True) -> tuple[PhilipsMibMonitor, PhilipsMibDecoder, list[Reading]]:
    """Emulator and decoder talking for `seconds` of scenario time; `answer` False: the host goes quiet after
    its first poll."""
    scenario = load_scenario("hypertensive")
    device, decoder = PhilipsMibMonitor(scenario), PhilipsMibDecoder("mp", UTC)
    decoder.start()
    t = scenario.start
    device.receive(decoder.pending_output(), t)
    items: list[Reading] = []
    polled = False
    while (due := device.next_due()) is not None and due <= scenario.start + timedelta(seconds=seconds):
        t = max(t, due)
        items += [i for i in decoder.feed(b"".join(device.frames_due(t))) if isinstance(i, Reading)]
        out = decoder.pending_output()
        if answer or not polled:
            polled = device.receive(out, t) > 0 or polled
    return device, decoder, items


def test_the_emulator_answers_the_decoder_every_second_with_linked_results() -> None:
    device, decoder, items = conversation(120)
    assert device.stats["associations"] == 1 and device.stats["polls"] == 1 + 120 // RENEW_S
    assert device.stats["keep_alives"] >= 120 // RENEW_S  # the keep-alives between renewals
    assert decoder.stats["poll_results"] > 121  # RORLS parts and the closing RORS
    assert len({r.time for r in items if r.vital == "hr"}) == 121
    assert not device.stats["silent_drops"]


def test_the_emulator_aborts_an_association_the_host_falls_silent_on() -> None:
    device, decoder, _ = conversation(200, answer=False)
    assert device.stats["results"] == 31  # the poll's 30 s period, then nothing: the host did not renew it
    later = device.scenario.start + timedelta(seconds=200)
    decoder.feed(b"".join(device.frames_due(later)))
    assert device.stats["silent_drops"] == 1 and decoder.stats["associations_aborted"] == 1
    assert device.next_due() is None


def test_the_emulator_answers_a_release() -> None:
    device = PhilipsMibMonitor(load_scenario("hypertensive"))
    start = device.scenario.start
    device.receive(frame(AARQ), start)
    device.frames_due(start)
    device.receive(frame(RLRQ), start)
    assert device.frames_due(start) == [frame(RLRS)] and device.stats["releases"] == 1


def test_nibp_without_its_own_time_is_taken_when_its_values_change() -> None:
    d = associated()
    out = []
    for s, values in enumerate([(120, 80, 93)] * 3 + [(118, 79, 92)] * 3):
        out += d.feed(frame(poll_result(1, 1, ticks(s), [nibp(None, values)])))
    assert [(r.vital, r.value, r.time) for r in out if r.vital == "sbp"] == [("sbp", 120, at(0)), ("sbp", 118, at(3))]


def test_a_monitor_restarted_mid_session_is_timed_by_its_new_mds_create() -> None:
    d = associated()
    d.feed(frame(poll_result(1, 1, ticks(5), vitals())))
    d.start()  # the watchdog saw the silence: the link reopens and associates again
    d.feed(frame(AARE) + frame(mds_create_event(1, 0, T0 + timedelta(minutes=3), 42)))
    (hr, *_) = d.feed(frame(poll_result(1, 1, 42 + 8000, vitals())))
    assert hr.time == at(181)


def exchange(device: PhilipsMibMonitor, decoder: PhilipsMibDecoder, start: float, end: float, *,
             heard: bool = True, host_lag: float = 0.0) -> list[Reading]:
    """One-second steps of scenario time: the monitor's frames reach the decoder `host_lag` s late (a starved
    host), its answers reach the monitor when the host sends them; `heard` False: the cable is out both ways."""
    t0, readings, in_flight = device.scenario.start, [], []
    for s in range(int(start), int(end) + 1):
        now = t0 + timedelta(seconds=s)
        in_flight.append((now + timedelta(seconds=host_lag), b"".join(device.frames_due(now))))
        while in_flight and in_flight[0][0] <= now:
            data = in_flight.pop(0)[1]
            if heard:
                readings += [i for i in decoder.feed(data) if isinstance(i, Reading)]
                device.receive(decoder.pending_output(), now)
    return readings



def test_after_an_unplug_and_a_lost_request_the_next_association_brings_results_back() -> None:
    """`vigil simulate --faults unplug=6+3`: the monitor keeps its association and poll through the outage, and
    the host's first AARQ after it is lost; the watchdog's reopen associates again and results come back."""
    device, decoder = PhilipsMibMonitor(load_scenario("hypertensive")), PhilipsMibDecoder("mp", UTC)
    decoder.start()
    device.receive(decoder.pending_output(), device.scenario.start)
    assert exchange(device, decoder, 0, 5)
    exchange(device, decoder, 6, 9, heard=False)
    decoder.start()
    decoder.pending_output()  # the AARQ into the loose cable
    assert not exchange(device, decoder, 10, 12)  # the old poll's results: before the new MDS create, not timed
    decoder.start()  # the watchdog (3 s) reopened the port
    device.receive(decoder.pending_output(), device.scenario.start + timedelta(seconds=13))
    hr = [r.time for r in exchange(device, decoder, 13, 60) if r.vital == "hr"]
    assert device.stats["associations"] == 2 and not device.stats["silent_drops"]
    assert hr == [device.scenario.start + timedelta(seconds=s) for s in range(13, 61)]


def test_a_host_frozen_past_the_polls_period_gets_results_again_with_its_late_renewal() -> None:
    """The renewal is sent on a result's device time; a host that reads nothing for 25 s renews after the
    period ran out, and the monitor, which stopped answering, starts again on it."""
    device, decoder = PhilipsMibMonitor(load_scenario("hypertensive")), PhilipsMibDecoder("mp", UTC)
    decoder.start()
    device.receive(decoder.pending_output(), device.scenario.start)
    exchange(device, decoder, 0, 30)
    late = exchange(device, decoder, 31, 120, host_lag=25)
    seconds = sorted({round((r.time - device.scenario.start).total_seconds()) for r in late if r.vital == "hr"})
    gap = sorted(set(range(31, 96)) - set(seconds))
    assert gap and gap[-1] < 70 and seconds[-1] == 95  # a stall, then a result every second again
    assert device.stats["associations"] == 1 and not device.stats["silent_drops"]
