"""The sans-I/O replay clock (`adapters.files.replay`): every call gets an explicit `now`, no thread, no sleep."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.files.replay import MAX_SPEED, ReplaySource, parse_speed
from adapters.model.reading import Event, Reading

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def hr_series(n: int, step: float = 1.0) -> list[Reading]:
    """HR readings at T0, T0+step, … with value 60+i so each one is identifiable."""
    return [Reading(at(i * step), "hr", 60.0 + i) for i in range(n)]


def seconds_of(items: list[Reading | Event]) -> list[float]:
    return [(item.time - T0).total_seconds() for item in items]


# -- parse_speed --


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", MAX_SPEED),
        ("MAX", MAX_SPEED),
        ("  Max ", MAX_SPEED),
        ("1", 1.0),
        ("1000", 1000.0),
        ("2.5", 2.5),
        ("60x", 60.0),
        ("60X", 60.0),
        ("60×", 60.0),
        (" 20 ", 20.0),
        (1, 1.0),
        (1000, 1000.0),
        (42.0, 42.0),
        (math.inf, MAX_SPEED),
    ],
)
def test_parse_speed_accepts(text: str | float, expected: float) -> None:
    assert parse_speed(text) == expected


@pytest.mark.parametrize(
    "text",
    ["0", "0.99", "1000.5", "5000", "-5", "fast", "", "x", "max2", "nan", 0, 0.5, 1001, -1.0, math.nan],
)
def test_parse_speed_refuses(text: str | float) -> None:
    with pytest.raises(ValueError, match=r"1 to 1000"):
        parse_speed(text)


def test_parse_speed_message_quotes_the_input() -> None:
    with pytest.raises(ValueError, match=r"'fast'"):
        parse_speed("fast")
    with pytest.raises(ValueError, match=r"'5000'"):
        parse_speed("5000")


# -- construction --


def test_empty_recording_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to replay"):
        ReplaySource([], 1.0, now=0.0)


def test_invalid_speed_is_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        ReplaySource(hr_series(3), 0.0, now=0.0)


def test_items_are_sorted_and_span_is_first_to_last() -> None:
    items: list[Reading | Event] = [Reading(at(5), "hr", 65), Event(at(2), "dose_start"), Reading(at(0), "spo2", 97)]
    source = ReplaySource(items, 1.0, now=100.0)
    assert source.start == at(0)
    assert source.end == at(5)
    assert source.position(100.0) == at(0)
    assert not source.paused
    assert not source.finished
    assert source.speed == 1.0
    got = source.due(110.0)
    assert [type(i).__name__ for i in got] == ["Reading", "Event", "Reading"]
    assert seconds_of(got) == [0, 2, 5]


def test_speed_can_be_given_as_text() -> None:
    assert ReplaySource(hr_series(2), "max", now=0.0).speed == MAX_SPEED  # type: ignore[arg-type]
    assert ReplaySource(hr_series(2), "30x", now=0.0).speed == 30.0  # type: ignore[arg-type]


# -- real-time speeds --


def test_speed_one_delivers_what_the_clock_has_reached() -> None:
    source = ReplaySource(hr_series(10), 1.0, now=50.0)
    assert seconds_of(source.due(50.0)) == [0]
    assert source.due(50.0) == []  # nothing is delivered twice
    assert source.due(50.9) == []
    assert seconds_of(source.due(51.0)) == [1]  # an item exactly at the position is due
    assert seconds_of(source.due(53.5)) == [2, 3]
    assert source.position(53.5) == at(3.5)


def test_speed_factor_scales_the_clock() -> None:
    source = ReplaySource(hr_series(100), 10.0, now=0.0)
    assert seconds_of(source.due(1.0)) == list(range(11))
    assert source.position(2.5) == at(25)
    assert seconds_of(source.due(2.5)) == list(range(11, 26))


def test_items_sharing_a_time_are_due_together() -> None:
    items = [Reading(at(0), "hr", 70), Reading(at(2), "hr", 71), Reading(at(2), "spo2", 97), Event(at(2), "note", "x")]
    source = ReplaySource(items, 1.0, now=0.0)
    assert len(source.due(0.0)) == 1
    assert source.due(1.99) == []
    assert len(source.due(2.0)) == 3
    assert source.finished


def test_position_never_passes_the_end_and_finished_is_reported() -> None:
    source = ReplaySource(hr_series(3), 1.0, now=0.0)
    assert source.position(1000.0) == at(2)
    assert seconds_of(source.due(1000.0)) == [0, 1, 2]
    assert source.finished
    assert source.due(2000.0) == []


def test_position_does_not_run_backwards_before_the_anchor() -> None:
    source = ReplaySource(hr_series(3), 1.0, now=10.0)
    assert source.position(5.0) == at(0)


def test_seconds_until_next_in_wall_seconds() -> None:
    source = ReplaySource(hr_series(5, step=10.0), 2.0, now=0.0)
    source.due(0.0)
    assert source.seconds_until_next(0.0) == pytest.approx(5.0)  # 10 s of recording at 2x
    assert source.seconds_until_next(4.0) == pytest.approx(1.0)
    assert source.seconds_until_next(7.0) == 0.0  # overdue: never negative
    source.pause(7.0)
    assert source.seconds_until_next(8.0) is None
    source.resume(8.0)
    source.due(1000.0)
    assert source.finished
    assert source.seconds_until_next(1000.0) is None


# -- as fast as possible --


def test_max_speed_delivers_in_batches_in_order() -> None:
    items = hr_series(23)
    source = ReplaySource(items, MAX_SPEED, now=0.0, batch_size=5)
    batches = []
    while not source.finished:
        assert source.seconds_until_next(0.0) == 0.0
        batch = source.due(0.0)  # the wall clock does not move at all
        assert batch
        batches.append(batch)
        assert source.position(0.0) == batch[-1].time
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert [r for b in batches for r in b] == items
    assert source.seconds_until_next(0.0) is None


def test_switch_from_max_to_real_time_continues_from_last_delivered() -> None:
    source = ReplaySource(hr_series(100), "max", now=0.0, batch_size=10)  # type: ignore[arg-type]
    assert seconds_of(source.due(0.0)) == list(range(10))
    source.set_speed(1, now=3.0)
    assert source.position(3.0) == at(9)
    assert source.due(3.5) == []
    assert seconds_of(source.due(5.0)) == [10, 11]


def test_switch_from_real_time_to_max() -> None:
    source = ReplaySource(hr_series(30), 1.0, now=0.0, batch_size=100)
    source.due(2.0)
    source.set_speed("max", now=2.0)
    assert source.speed == MAX_SPEED
    assert seconds_of(source.due(2.0)) == list(range(3, 30))
    assert source.finished


# -- pause, resume, speed --


def test_pause_freezes_the_clock_and_resume_continues_from_there() -> None:
    source = ReplaySource(hr_series(60), 1.0, now=0.0)
    source.due(3.0)
    source.pause(now=3.5)
    assert source.paused
    assert source.position(100.0) == at(3.5)
    assert source.due(100.0) == []
    source.resume(now=200.0)
    assert not source.paused
    assert source.position(200.0) == at(3.5)
    assert seconds_of(source.due(201.0)) == [4]  # 3.5 + 1 s, not 3.5 + 198 s


def test_pause_and_resume_are_idempotent() -> None:
    source = ReplaySource(hr_series(60), 1.0, now=0.0)
    source.pause(now=2.0)
    source.pause(now=10.0)  # a second pause must not move the anchor
    assert source.position(20.0) == at(2)
    source.resume(now=20.0)
    source.resume(now=25.0)  # resuming while playing must not re-anchor
    assert source.position(25.0) == at(7)


def test_set_speed_keeps_position_continuous() -> None:
    source = ReplaySource(hr_series(200), 1.0, now=0.0)
    source.due(10.0)
    source.set_speed(10, now=10.0)
    assert source.speed == 10.0
    assert source.position(10.0) == at(10)
    assert source.position(11.0) == at(20)
    assert seconds_of(source.due(11.0)) == list(range(11, 21))


def test_set_speed_while_paused_applies_after_resume() -> None:
    source = ReplaySource(hr_series(200), 1.0, now=0.0)
    source.pause(now=5.0)
    source.set_speed(100, now=50.0)
    assert source.paused
    assert source.position(60.0) == at(5)
    source.resume(now=60.0)
    assert source.position(61.0) == at(105)


def test_invalid_set_speed_leaves_the_replay_unchanged() -> None:
    source = ReplaySource(hr_series(200), 5.0, now=0.0)
    with pytest.raises(ValueError):
        source.set_speed(5000, now=1.0)
    with pytest.raises(ValueError):
        source.set_speed("fast", now=1.0)
    assert source.speed == 5.0
    assert source.position(2.0) == at(10)


# -- seek --


def test_seek_forward_makes_everything_up_to_the_target_due_at_once() -> None:
    source = ReplaySource(hr_series(100), 1.0, now=0.0)
    assert seconds_of(source.due(0.0)) == [0]
    assert source.seek(at(40), now=1.0) is False
    assert source.position(1.0) == at(40)
    assert seconds_of(source.due(1.0)) == list(range(1, 41))  # the trend catches up, target included
    assert seconds_of(source.due(2.0)) == [41]


def test_seek_backward_redelivers_only_items_after_the_target() -> None:
    source = ReplaySource(hr_series(100), 1.0, now=0.0)
    source.due(50.0)
    assert source.seek(at(20), now=50.0) is True
    assert source.position(50.0) == at(20)
    assert source.due(50.0) == []  # the item at the target was delivered and is kept
    assert seconds_of(source.due(52.0)) == [21, 22]


def test_seek_clamps_to_the_recording() -> None:
    source = ReplaySource(hr_series(10), 1.0, now=0.0)
    source.due(5.0)
    assert source.seek(at(-100), now=5.0) is True
    assert source.position(5.0) == at(0)
    assert seconds_of(source.due(6.0)) == [1]
    assert source.seek(at(1000), now=6.0) is False
    assert source.position(6.0) == at(9)
    assert seconds_of(source.due(6.0)) == list(range(2, 10))
    assert source.finished


def test_seek_while_paused_stays_paused() -> None:
    source = ReplaySource(hr_series(100), 1.0, now=0.0)
    source.due(10.0)
    source.pause(now=10.0)
    source.seek(at(50), now=11.0)
    assert source.paused
    assert source.due(20.0) == []
    assert source.position(20.0) == at(50)
    source.resume(now=30.0)
    assert seconds_of(source.due(30.0)) == list(range(11, 51))


def test_seek_backward_after_the_end_replays_again() -> None:
    source = ReplaySource(hr_series(10), "max", now=0.0)  # type: ignore[arg-type]
    source.due(0.0)
    assert source.finished
    assert source.seek(at(6), now=0.0) is True
    assert not source.finished
    assert seconds_of(source.due(0.0)) == [7, 8, 9]


def test_seek_backward_never_skips_items_that_were_not_yet_delivered() -> None:
    """Regression: a backward seek used to jump past items that were due but not yet taken."""
    source = ReplaySource(hr_series(11), 1.0, now=0.0)
    delivered = seconds_of(source.due(0.0))
    assert delivered == [0]
    # The clock reached 5 s but the consumer has not yet taken items 1..5; seek back to 3 s.
    assert source.seek(at(3), now=5.0) is True
    delivered += seconds_of(source.due(100.0))
    assert set(delivered) == set(range(11)), f"never delivered: {sorted(set(range(11)) - set(delivered))}"


# -- property: without backward seeks, every item is delivered exactly once, in order --

_op = st.one_of(
    st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=5.0)),
    st.tuples(st.just("pause"), st.just(0.0)),
    st.tuples(st.just("resume"), st.just(0.0)),
    st.tuples(st.just("speed"), st.sampled_from([1.0, 2.5, 10.0, 1000.0, MAX_SPEED])),
    st.tuples(st.just("forward"), st.floats(min_value=0.0, max_value=30.0)),
)


@settings(max_examples=150, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=40),
    ops=st.lists(_op, max_size=30),
    batch=st.integers(min_value=1, max_value=7),
)
def test_every_item_is_delivered_once_in_time_order(
    offsets: list[int], ops: list[tuple[str, float]], batch: int
) -> None:
    times = [sum(offsets[: i + 1]) for i in range(len(offsets))]
    items = [Reading(at(t), "hr", float(i)) for i, t in enumerate(times)]
    now = 0.0
    source = ReplaySource(items, 1.0, now=now, batch_size=batch)
    delivered: list[Reading | Event] = []
    for op, arg in ops:
        if op == "advance":
            now += arg
        elif op == "pause":
            source.pause(now)
        elif op == "resume":
            source.resume(now)
        elif op == "speed":
            source.set_speed(arg, now)
        else:
            target = source.position(now) + timedelta(seconds=arg)
            assert source.seek(target, now) is False
        delivered += source.due(now)
        assert source.position(now) <= source.end
    source.resume(now)
    source.set_speed("max", now)
    while not source.finished:
        delivered += source.due(now)
    assert delivered == items


# -- property: with seeks both ways, a consumer that drops what it holds after a rewind ends with every item once --

_seek_op = st.one_of(_op, st.tuples(st.just("seek"), st.floats(min_value=-40.0, max_value=40.0)))


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=40),
    ops=st.lists(st.tuples(_seek_op, st.booleans()), max_size=30),
    batch=st.integers(min_value=1, max_value=7),
)
def test_rewind_and_redeliver_yields_every_item_exactly_once(
    offsets: list[int], ops: list[tuple[tuple[str, float], bool]], batch: int
) -> None:
    """What the runner does with a store: keep what is delivered, drop everything after the target on a rewind.

    The consumer does not always take what is due before the next control (`take`), as a runner that is
    still waiting out its batch window when the user clicks.
    """
    times = [sum(offsets[: i + 1]) for i in range(len(offsets))]
    items = [Reading(at(t), "hr", float(i)) for i, t in enumerate(times)]
    now = 0.0
    source = ReplaySource(items, 1.0, now=now, batch_size=batch)
    kept: list[Reading | Event] = []
    for (op, arg), take in ops:
        if op == "advance":
            now += arg
        elif op == "pause":
            source.pause(now)
        elif op == "resume":
            source.resume(now)
        elif op == "speed":
            source.set_speed(arg, now)
        else:
            before = source.position(now)
            target = before + timedelta(seconds=arg)
            rewound = source.seek(target, now)
            assert rewound == (min(max(target, source.start), source.end) < before)
            assert source.position(now) == min(max(target, source.start), source.end)
            if rewound:
                kept = [i for i in kept if i.time <= source.position(now)]
        if take:
            kept += source.due(now)
        assert all(i.time <= source.position(now) for i in kept)  # nothing is delivered ahead of the clock
    source.resume(now)
    source.set_speed("max", now)
    while not source.finished:
        kept += source.due(now)
    assert kept == items
