"""The GE S/5 decoder and request encoder: against the spec's official frames, the real captures in
tests/data/ge_s5 (counts and values from its README), and records built to probe each rule."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.model.reading import Reading
from adapters.model.vitals import VITALS
from adapters.protocols.ge_s5.decoder import LINE_SETTINGS, GeS5Decoder
from adapters.protocols.ge_s5.framing import Deframer, frame
from adapters.protocols.ge_s5.records import (
    CLASS_BASIC,
    CLASS_EXT1,
    DATA_INVALID,
    NIBP_AUTO,
    NIBP_MEASURING,
    NIBP_OLDER_THAN_60S,
    PH_60S_TREND,
    PH_DISPL,
    PHYSDATA_LEN,
    encode_basic,
    encode_phdb,
    encode_request,
    encode_subrecord,
    group_status,
    parse_header,
    parse_phdb,
)

T0 = 1_700_000_000  # a whole second, Unix time


def hexframe(text: str) -> bytes:
    return bytes.fromhex(text.replace("\n", " "))


# GE "S/5 Computer Interface Specification" (M1017617, 12th ed.), Appendix A, verbatim; the prefix is
# shared up to byte 39.
PREFIX = (
    "7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00"
    " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
)
OFFICIAL = [
    ((PH_DISPL, 10, 0x0E, 0), PREFIX + " 01 0a 00 0e 00 00 00 00 00 49 7e"),
    ((PH_DISPL, 0, 0, 0), PREFIX + " 01 00 00 00 00 00 00 00 00 31 7e"),
    ((PH_60S_TREND, 60, 0x0E, 0), PREFIX + " 03 3c 00 0e 00 00 00 00 00 7d 5d 7e"),  # checksum 0x7D, escaped
    ((PH_60S_TREND, 0, 0, 0), PREFIX + " 03 00 00 00 00 00 00 00 00 33 7e"),
]


@pytest.mark.parametrize(("args", "expected"), OFFICIAL)
def test_official_request_frames_are_produced_byte_for_byte(args: tuple[int, int, int, int], expected: str) -> None:
    subtype, interval, classes, level = args
    assert frame(encode_request(subtype, interval, classes, level)) == hexframe(expected)


@pytest.mark.parametrize(("level", "last"), [(9, 0x4D), (8, 0x4C), (7, 0x4B)])
def test_request_carries_the_dri_level_in_byte_3(level: int, last: int) -> None:
    wire = frame(encode_request(PH_DISPL, 5, 0x0E, level))
    assert wire[4] == level and wire[-2] == last


def test_start_queues_the_displayed_values_request_once() -> None:
    decoder = GeS5Decoder(interval_s=5)
    assert decoder.pending_output() == b""
    decoder.start()
    assert decoder.pending_output() == frame(encode_request(PH_DISPL, 5))
    assert decoder.pending_output() == b""


def test_default_line_settings_are_19200_8e1_rts_cts() -> None:
    assert LINE_SETTINGS.describe() == "19200 8E1 RTS/CTS"


# -- the real captures --


def decode_file(path: Path, chunk: int = 4096) -> tuple[GeS5Decoder, list[Reading]]:
    decoder = GeS5Decoder()
    data = path.read_bytes()
    items = []
    for i in range(0, len(data), chunk):
        items += decoder.feed(data[i:i + chunk])
    assert all(isinstance(i, Reading) for i in items)
    return decoder, items  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("name", "frames", "failures", "phdb", "wave"),
    [
        ("pycollect_notebooks_raw.raw", 21, 0, 11, 10),
        ("pycollect_db02.raw", 213, 0, 107, 106),
        ("pycollect_db00.raw", 3520, 0, 1760, 1760),
        ("pycollect_db01.raw", 2446, 308, None, None),
    ],
)
def test_captures_decode_with_the_readme_frame_and_checksum_counts(
    ge_captures: Path, name: str, frames: int, failures: int, phdb: int | None, wave: int | None
) -> None:
    decoder, readings = decode_file(ge_captures / name)
    assert decoder.stats["frames"] == frames
    assert decoder.stats["checksum_failures"] == failures
    if phdb is not None:
        assert (decoder.stats["phdb_records"], decoder.stats["wave_records"]) == (phdb, wave)
        assert decoder.stats["malformed_records"] == 0
    assert all(VITALS[r.vital].plausible(r.value) for r in readings)


def at(readings: list[Reading], hhmmss: str) -> dict[str, float]:
    when = datetime.fromisoformat(f"2018-07-26T{hhmmss}+00:00")
    return {r.vital: r.value for r in readings if r.time == when}


def test_notebook_capture_values_match_the_readme_table(ge_captures: Path) -> None:
    _, readings = decode_file(ge_captures / "pycollect_notebooks_raw.raw")
    table = {
        "17:06:05": (80, 96.65, 83),
        "17:06:38": (80, 95.72, 82),
        "17:06:39": (80, 95.71, 81),
        "17:06:43": (80, 95.85, 76),
        "17:06:47": (79, 96.21, 76),
    }
    for hhmmss, (hr, spo2, pr) in table.items():
        values = at(readings, hhmmss)
        assert (values["hr"], values["spo2"], values["pr"]) == pytest.approx((hr, spo2, pr)), hhmmss
    # NIBP 93/48 (69) is shown in all 11 records but is one measurement: emitted once, at the first record.
    nibp = [(r.time, r.vital, r.value, r.measured_at) for r in readings if r.vital in ("sbp", "dbp", "map")]
    first = datetime(2018, 7, 26, 17, 6, 5, tzinfo=UTC)
    assert nibp == [(first, "sbp", 93, first), (first, "dbp", 48, first), (first, "map", 69, first)]


def test_notebook_capture_headers_and_nibp_labels_match_the_readme(ge_captures: Path) -> None:
    records = Deframer(Counter()).feed((ge_captures / "pycollect_notebooks_raw.raw").read_bytes())
    expected = {0: (2, 0x000B), 1: (3, 0x000B), 3: (4, 0x000B), 11: (8, 0x010B), 19: (12, 0x010B)}
    for index, (r_nbr, label) in expected.items():
        header = parse_header(records[index])
        assert (header.r_nbr, header.dri_level, header.maintype) == (r_nbr, 10, 0)
        basic = next(s for s in parse_phdb(records[index], header) if s.cls == CLASS_BASIC)
        assert group_status(basic.physdata, 72) == (3, label)


def test_db00_yields_one_nibp_reading_per_cuff_cycle_at_the_time_its_values_appeared(ge_captures: Path) -> None:
    decoder, readings = decode_file(ge_captures / "pycollect_db00.raw")
    sbp = [(r.time.strftime("%H:%M:%S"), r.value) for r in readings if r.vital == "sbp"]
    # The capture opens mid-cycle (label 0x12B: measuring, old 87/61 (73) on screen); each cycle's
    # values appear while the measuring bit is still set and are read once.
    assert sbp == [
        ("14:30:28", 86), ("14:32:59", 91), ("14:35:29", 79), ("14:36:57", 94), ("14:37:56", 90),
        ("14:40:29", 85), ("14:45:32", 84), ("14:50:30", 90), ("14:55:34", 81),
    ]
    last = {r.vital: r.value for r in readings if r.vital in ("sbp", "dbp", "map")}
    assert last == {"sbp": 81, "dbp": 52, "map": 64}
    assert decoder.stats["nibp_measurements"] == 9


def test_corrupt_capture_resynchronises_and_counts_what_it_skipped(ge_captures: Path) -> None:
    decoder, readings = decode_file(ge_captures / "pycollect_db01.raw")
    # 12 frames verify but their length field disagrees: 9 are whole records behind a stray 0x00
    # (recovered), 3 are not records at all.
    assert (decoder.stats["recovered_records"], decoder.stats["malformed_records"]) == (9, 3)
    assert decoder.stats["valid_frames"] == 2446 - 308
    assert decoder.stats["phdb_records"] == 1160
    assert sum(r.vital == "hr" for r in readings) == 1160  # every verified PHDB record carries its HR


def test_decoding_does_not_depend_on_how_the_bytes_are_chunked(ge_captures: Path) -> None:
    data = (ge_captures / "pycollect_db02.raw").read_bytes()
    _, whole = decode_file(ge_captures / "pycollect_db02.raw", chunk=len(data))
    rng = random.Random(4)
    decoder, pieces, i = GeS5Decoder(), [], 0
    while i < len(data):
        n = rng.choice((1, 2, 7, 64, 1153, 5000))
        pieces += decoder.feed(data[i:i + n])
        i += n
    assert pieces == whole


# -- records built to probe each rule --


def record(seconds: int, values: dict[str, float | None], label: int = NIBP_AUTO, nbr: int = 1,
           subrecords: list[bytes] | None = None) -> bytes:
    subs = subrecords or [encode_subrecord(seconds, CLASS_BASIC, encode_basic(values, label), 10)]
    return frame(encode_phdb(nbr, seconds, subs, 10))


def feed_all(decoder: GeS5Decoder, frames: list[bytes]) -> list[Reading]:
    return [i for f in frames for i in decoder.feed(f)]  # type: ignore[misc]


def test_every_vital_the_table_knows_is_decoded_at_the_record_time() -> None:
    values = {"hr": 72, "spo2": 97.5, "pr": 71, "rr": 14, "sbp": 128, "dbp": 81, "map": 97}
    readings = GeS5Decoder(source="bed-3").feed(record(T0, values))
    t = datetime.fromtimestamp(T0, UTC)
    assert {r.vital: r.value for r in readings} == values
    assert all(r.time == r.device_time == t and r.source == "bed-3" for r in readings)


def test_the_class_is_read_from_the_subrecord_not_its_position() -> None:
    ext_first = [
        encode_subrecord(T0, CLASS_EXT1, bytes(PHYSDATA_LEN), 10),
        encode_subrecord(T0, CLASS_BASIC, encode_basic({"hr": 66}), 10),
    ]
    assert [(r.vital, r.value) for r in GeS5Decoder().feed(record(T0, {}, subrecords=ext_first))] == [("hr", 66)]
    only_ext = [encode_subrecord(T0, CLASS_EXT1, encode_basic({"hr": 66}), 10)]  # basic denied
    assert GeS5Decoder().feed(record(T0, {}, subrecords=only_ext)) == []


def test_a_group_counts_only_when_its_module_exists_and_is_active() -> None:
    physdata = bytearray(encode_basic({"hr": 66, "spo2": 98}))
    physdata[0:4] = (1).to_bytes(4, "little")  # ECG exists but is not measuring
    sub = encode_subrecord(T0, CLASS_BASIC, bytes(physdata), 10)
    assert [r.vital for r in GeS5Decoder().feed(record(T0, {}, subrecords=[sub]))] == ["spo2"]


@pytest.mark.parametrize("special", [DATA_INVALID, -32766, -32765, -32764, -32763, -32762, -32001])
def test_special_values_are_never_numbers(special: int) -> None:
    physdata = bytearray(encode_basic({"hr": 66}))
    physdata[6:8] = special.to_bytes(2, "little", signed=True)
    sub = encode_subrecord(T0, CLASS_BASIC, bytes(physdata), 10)
    assert GeS5Decoder().feed(record(T0, {}, subrecords=[sub])) == []


def test_values_outside_the_plausible_range_are_counted_not_emitted() -> None:
    decoder = GeS5Decoder()
    assert decoder.feed(record(T0, {"spo2": 250.0, "hr": 66})) == [
        Reading(datetime.fromtimestamp(T0, UTC), "hr", 66, source="ge-s5", device_time=datetime.fromtimestamp(T0, UTC))
    ]
    assert decoder.stats["implausible"] == 1


@pytest.mark.parametrize(("hr_source", "kept"), [(0, True), (1, True), (9, True), (2, False), (6, False)])
def test_heart_rate_is_taken_only_from_the_ecg(hr_source: int, kept: bool) -> None:
    physdata = bytearray(encode_basic({"hr": 66, "pr": 64}))
    physdata[0:4] = (0x3 | hr_source << 3).to_bytes(4, "little")  # exists, active, HR source
    sub = encode_subrecord(T0, CLASS_BASIC, bytes(physdata), 10)
    decoder = GeS5Decoder()
    vitals = [r.vital for r in decoder.feed(record(T0, {}, subrecords=[sub]))]
    assert vitals == (["hr", "pr"] if kept else ["pr"])
    assert decoder.stats["hr_not_from_ecg"] == (0 if kept else 1)


def test_a_record_behind_stray_zero_bytes_is_recovered() -> None:
    wire = frame(b"\x00" + encode_phdb(1, T0, [encode_subrecord(T0, CLASS_BASIC, encode_basic({"hr": 66}), 10)], 10))
    decoder = GeS5Decoder()
    assert [(r.vital, r.value) for r in decoder.feed(wire)] == [("hr", 66)]
    assert decoder.stats["recovered_records"] == 1


def test_our_own_request_looped_back_is_not_a_monitor_frame() -> None:
    decoder = GeS5Decoder()
    decoder.start()
    assert decoder.feed(decoder.pending_output()) == []
    assert (decoder.stats["echoed_requests"], decoder.stats["valid_frames"]) == (1, 0)


def test_a_record_with_no_live_module_is_still_a_valid_frame() -> None:
    decoder = GeS5Decoder()
    assert decoder.feed(record(T0, {})) == []
    assert decoder.stats["valid_frames"] == 1


def test_respiration_rate_prefers_the_airway_over_impedance() -> None:
    physdata = bytearray(encode_basic({"rr": 12, "hr": 60}))
    physdata[14:16] = (20).to_bytes(2, "little")  # ECG impedance respiration rate
    sub = encode_subrecord(T0, CLASS_BASIC, bytes(physdata), 10)
    assert {r.vital: r.value for r in GeS5Decoder().feed(record(T0, {}, subrecords=[sub]))}["rr"] == 12


def nibp_frames(script: list[tuple[int, dict[str, float | None], int]]) -> list[bytes]:
    return [record(T0 + s, {"hr": 70, **v}, label) for s, v, label in script]


BP1 = {"sbp": 120, "dbp": 80, "map": 93}
BP2 = {"sbp": 150, "dbp": 95, "map": 113}


def nibp_of(readings: list[Reading]) -> list[tuple[int, float, int]]:
    return [(int(r.time.timestamp()) - T0, r.value, int(r.measured_at.timestamp()) - T0)
            for r in readings if r.vital == "sbp" and r.measured_at]


def test_nibp_is_emitted_once_per_cuff_cycle_not_per_record() -> None:
    script = [(0, BP1, NIBP_AUTO)] + [(s, BP1, NIBP_AUTO) for s in range(1, 61)]
    script += [(s, BP1, NIBP_AUTO | NIBP_OLDER_THAN_60S) for s in range(61, 70)]
    script += [(s, BP1, NIBP_AUTO | NIBP_OLDER_THAN_60S | NIBP_MEASURING) for s in range(70, 100)]
    script += [(s, BP2, NIBP_AUTO) for s in range(100, 110)]
    assert nibp_of(feed_all(GeS5Decoder(), nibp_frames(script))) == [(0, 120, 0), (100, 150, 100)]


def test_nibp_values_shown_before_the_measuring_bit_clears_take_that_time() -> None:
    script = [(0, BP1, NIBP_MEASURING), (1, BP2, NIBP_MEASURING), (2, BP2, NIBP_MEASURING), (3, BP2, NIBP_AUTO)]
    readings = feed_all(GeS5Decoder(), nibp_frames(script))
    assert nibp_of(readings) == [(1, 150, 1)]
    assert {r.device_time for r in readings if r.vital == "sbp"} == {datetime.fromtimestamp(T0 + 3, UTC)}


def test_a_repeated_measurement_with_equal_values_is_a_new_reading() -> None:
    script = [(0, BP1, NIBP_AUTO), (10, BP1, NIBP_MEASURING), (40, BP1, NIBP_AUTO)]
    assert nibp_of(feed_all(GeS5Decoder(), nibp_frames(script))) == [(0, 120, 0), (40, 120, 40)]


def test_an_aborted_cycle_does_not_repeat_the_old_values() -> None:
    old = NIBP_AUTO | NIBP_OLDER_THAN_60S
    script = [(0, BP1, NIBP_AUTO), (100, BP1, old | NIBP_MEASURING), (130, BP1, old), (131, BP1, old)]
    assert nibp_of(feed_all(GeS5Decoder(), nibp_frames(script))) == [(0, 120, 0)]


def test_values_already_older_than_60_s_when_first_seen_are_not_emitted() -> None:
    decoder = GeS5Decoder()
    script = [(0, BP1, NIBP_AUTO | NIBP_OLDER_THAN_60S), (5, BP1, NIBP_AUTO | NIBP_OLDER_THAN_60S)]
    assert nibp_of(feed_all(decoder, nibp_frames(script))) == []
    assert decoder.stats["nibp_older_than_60s"] == 1


def test_new_values_seen_without_their_cycle_still_count() -> None:
    # At a 10 s interval a short cycle can fall between two records.
    script = [(0, BP1, NIBP_AUTO), (60, BP2, NIBP_AUTO), (70, BP2, NIBP_AUTO)]
    assert nibp_of(feed_all(GeS5Decoder(), nibp_frames(script))) == [(0, 120, 0), (60, 150, 60)]


def test_nibp_state_survives_a_reconnect() -> None:
    decoder = GeS5Decoder()
    feed_all(decoder, nibp_frames([(0, BP1, NIBP_AUTO)]))
    decoder.start()
    assert nibp_of(feed_all(decoder, nibp_frames([(20, BP1, NIBP_AUTO)]))) == []


def test_a_restarted_decoder_told_the_recorded_measurement_does_not_take_it_for_a_new_one() -> None:
    """Acquisition killed just after storing a result, then restarted: the monitor still shows it, fresh."""
    first = GeS5Decoder()
    script = [(0, BP1, NIBP_MEASURING), (1, BP1, NIBP_MEASURING), (2, BP2, NIBP_AUTO)]
    recorded = [r for r in feed_all(first, nibp_frames(script)) if r.measured_at]
    assert nibp_of(recorded) == [(2, 150, 2)]
    restarted = GeS5Decoder()
    restarted.resume(recorded)
    assert nibp_of(feed_all(restarted, nibp_frames([(21, BP2, NIBP_AUTO), (22, BP2, NIBP_AUTO)]))) == []
    # Unlike a decoder that was not told: it sees fresh values it has not emitted, and takes them as new.
    assert nibp_of(feed_all(GeS5Decoder(), nibp_frames([(21, BP2, NIBP_AUTO)]))) == [(21, 150, 21)]
    # The next cuff cycle is a new measurement, whatever its values.
    later = [(30, BP2, NIBP_MEASURING), (60, BP2, NIBP_AUTO)]
    assert nibp_of(feed_all(restarted, nibp_frames(later))) == [(60, 150, 60)]


def test_the_recorded_values_shown_fresh_long_after_they_were_recorded_are_a_new_measurement() -> None:
    """The cuff measured the same values again while no one listened: the monitor calls them fresh, though
    the recorded measurement is by now older than 60 s."""
    recorded = [Reading(datetime.fromtimestamp(T0, UTC), code, value, "ge-s5", measured_at=datetime.fromtimestamp(
        T0, UTC)) for code, value in BP1.items()]
    decoder = GeS5Decoder()
    decoder.resume(recorded)
    assert nibp_of(feed_all(decoder, nibp_frames([(90, BP1, NIBP_AUTO), (91, BP1, NIBP_AUTO)]))) == [(90, 120, 90)]
    # Older than 60 s, as the monitor says: nothing new.
    decoder = GeS5Decoder()
    decoder.resume(recorded)
    assert nibp_of(feed_all(decoder, nibp_frames([(90, BP1, NIBP_AUTO | NIBP_OLDER_THAN_60S)]))) == []


@pytest.mark.parametrize("checksum_byte", [0x7E, 0x7D])
def test_a_checksum_that_needs_escaping_is_escaped_and_decoded(checksum_byte: int) -> None:
    for hr in range(30, 300):
        physdata = encode_basic({"hr": hr})
        rec = encode_phdb(1, T0, [encode_subrecord(T0, CLASS_BASIC, physdata, 10)], 10)
        if sum(rec) & 0xFF == checksum_byte:
            break
    else:
        pytest.fail("no heart rate gives that checksum")
    wire = frame(rec)
    assert wire.endswith(bytes((0x7D, checksum_byte & ~0x20 & 0xFF, 0x7E)))
    assert [(r.vital, r.value) for r in GeS5Decoder().feed(wire)] == [("hr", hr)]


def test_junk_truncated_frames_and_overlong_spans_are_counted_and_skipped() -> None:
    good = record(T0, {"hr": 61})
    flagless = bytes(b for b in range(256) if b != 0x7E) * 30
    decoder = GeS5Decoder()
    readings = decoder.feed(b"\x00\x13junk" + good[: len(good) // 2] + good + flagless + good)
    assert [r.value for r in readings] == [61, 61]
    assert (decoder.stats["junk_bytes"], decoder.stats["checksum_failures"]) == (6, 2)
    assert decoder.feed(flagless) == []  # no closing flag in sight: dropped rather than buffered forever
    assert decoder.stats["overflows"] == 1
    assert [r.value for r in decoder.feed(record(T0 + 1, {"hr": 62}))] == [62]


# -- fuzz --


def check(items: list) -> None:
    for item in items:
        assert isinstance(item, Reading)
        assert VITALS[item.vital].plausible(item.value)
        assert item.time.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=400), max_size=8))
def test_fuzz_random_bytes_never_raise_nor_yield_implausible_readings(chunks: list[bytes]) -> None:
    decoder = GeS5Decoder()
    for chunk in chunks:
        check(decoder.feed(chunk))


REAL_RECORD = record(T0, {"hr": 72, "spo2": 97.5, "pr": 71, "rr": 14, "sbp": 128, "dbp": 81, "map": 97})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(REAL_RECORD) - 1), st.integers(0, 255)), max_size=6),
    st.integers(1, len(REAL_RECORD)),
    st.booleans(),
)
def test_fuzz_mutated_real_frames_never_raise_nor_yield_implausible_readings(
    flips: list[tuple[int, int]], cut: int, refix: bool
) -> None:
    """Mutate a real record's bytes; with `refix` the checksum is recomputed, so the mutation reaches
    the record parser instead of stopping at the checksum."""
    unframed = bytearray(encode_phdb(1, T0, [encode_subrecord(T0, CLASS_BASIC, encode_basic(
        {"hr": 72, "spo2": 97.5, "sbp": 128, "dbp": 81, "map": 97}, NIBP_AUTO), 10)], 10))
    for pos, value in flips:
        unframed[pos % len(unframed)] = value
    wire = frame(bytes(unframed)) if refix else bytearray(REAL_RECORD)
    if not refix:
        for pos, value in flips:
            wire[pos] = value
    decoder = GeS5Decoder()
    check(decoder.feed(bytes(wire[:cut]) + bytes(wire[cut:])))
    check(decoder.feed(REAL_RECORD))
