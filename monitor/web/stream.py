"""Server-Sent Events: push each browser tab only what is new in the store since its cursor.

One route per tab (`urls.STREAM`, `?session=ID`), Flask's own, so the sign-in guard covers it. Every
message carries the store cursor as its SSE `id:`, so the browser's automatic
reconnect sends `Last-Event-ID` and resumes without a gap or a duplicate. The loop wakes on the
store's in-process change signal, and polls the indexed "since cursor" query otherwise, so an
acquisition process writing the same database is seen within `POLL_S`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo

from flask import Flask, Response, request

from adapters.model.reading import Event, Reading
from monitor.limits.model import Limits, limits_from_stored
from monitor.session.limit_lines import stored_limit_lines
from monitor.store import Cursor, SessionInfo, Store
from monitor.web import urls
from monitor.web.auth import stream_alive
from monitor.web.bed.alarm_view import alarm_payload
from monitor.web.bed.figures import display_ms, limit_shapes, trend_label
from monitor.web.bed.limits_editor import in_force
from monitor.web.bed.session_view import session_payload

POLL_S = 0.25
HEARTBEAT_S = 15.0
SIGN_IN_CHECK_S = 2.0  # how soon a sign-out or a disabled account ends an open stream
BATCH_LIMIT = 2000


def clock_payload(info: SessionInfo, tz: tzinfo) -> dict:
    """The session clock as the browser needs it to tick "now" between messages; `ended`: a replay stands still at
    its recording's end (the browser says so, rather than showing a frozen clock as "Live")."""
    ended = (info.span_end is not None and info.clock_pos is not None and info.clock_pos >= info.span_end
             and not info.clock_speed)
    return {
        "pos": None if info.clock_pos is None else display_ms(info.clock_pos, tz),
        "wall": None if info.clock_wall_us is None else info.clock_wall_us // 1000,
        "speed": info.clock_speed or 0.0,
        "epoch": info.epoch,
        "span": [
            None if info.span_start is None else display_ms(info.span_start, tz),
            None if info.span_end is None else display_ms(info.span_end, tz),
        ],
        "ended": ended,
    }


def compact(value: float) -> float | int:
    """72 rather than 72.0 on the wire: a few bytes per reading, every update."""
    return int(value) if value.is_integer() else value


def encode_update(readings: list[Reading], events: list[Event], tz: tzinfo) -> dict:
    """Compact update: readings as [t, vital, value], events as [t, kind, label] (the label as Plotly text)."""
    return {
        "r": [[display_ms(r.time, tz), r.vital, compact(r.value)] for r in readings],
        "e": [[display_ms(e.time, tz), e.kind, trend_label(e)] for e in events],
    }


def sse_message(data: dict, cursor: Cursor | None = None) -> str:
    head = f"id: {cursor}\n" if cursor is not None else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


def limits_payload(store: Store, session_id: int, version: int, tz: tzinfo) -> dict:
    """The limits as the browser needs them: the preset in force, and each version's bands and lines over the
    time it was in force (`open`: the shapes the browser stretches on to "now" as readings arrive), and what the
    Limits tab shows (`editor`), and the values shown beside the numerics (`values`)."""
    data = store.limits.current(session_id)
    drawn = limit_shapes(stored_limit_lines(store, session_id), tz)
    return {"version": version, "preset": None if data is None else data.get("preset"), "shapes": drawn.shapes,
            "open": drawn.open, "editor": in_force(store, session_id),
            "values": (Limits() if data is None else limits_from_stored(data)).to_dict()}


def _drawn(payload: dict) -> tuple:
    """What a limits payload draws apart from the open shapes' ends, which the browser moves itself."""
    stretched = set(payload["open"])
    return payload["version"], json.dumps([{k: v for k, v in shape.items() if k != "x1" or i not in stretched}
                                           for i, shape in enumerate(payload["shapes"])])


@dataclass
class _Told:
    """What a stream has told its viewer so far, so that each message carries only what changed."""

    cursor: Cursor
    clock: dict | None = None
    limits: int | None = None
    drawn: tuple | None = None  # `_drawn` of the limits payload last sent
    started: bool = False  # data had arrived when the limits were last drawn: their lines have a start
    setup: tuple | None = None


def _limits_update(store: Store, session_id: int, told: _Told, version: int, readings: bool, events: bool,
                   tz: tzinfo) -> dict | None:
    """The limits payload if what it draws changed: after a new version, on the first readings (the lines'
    start) and after an event or an amendment (a dose fixes the baseline a rise line needs); None otherwise."""
    if version == told.limits and not events and not (readings and not told.started):
        return None
    told.limits = version
    told.started = told.started or readings or events
    payload = limits_payload(store, session_id, version, tz)
    drawn = _drawn(payload)
    if drawn == told.drawn:
        return None
    told.drawn = drawn
    return payload


def _next_update(store: Store, info: SessionInfo, told: _Told, tz: tzinfo) -> tuple[dict, bool] | None:
    """The next message and whether it holds a full batch (more is waiting), moving `told` on; None if nothing
    changed."""
    session_id = info.id
    new_readings = store.samples.readings_since(session_id, told.cursor.reading, BATCH_LIMIT)
    new_events = store.samples.events_since(session_id, told.cursor.event, BATCH_LIMIT)
    new_alarms = store.alarms.since(session_id, told.cursor.alarm)
    limits_version = store.limits.version(session_id)
    clock = clock_payload(info, tz)
    setup = (info.session_type, info.patient_label, info.bed, info.ended, info.amendments)
    session_changed = (setup != told.setup or bool(new_events)
                       or any(s.reading.vital == "sbp" for s in new_readings))
    # A corrected or withdrawn dose (or a new set-up) moves the baseline a rise line starts from, as a new event does.
    limits = _limits_update(store, session_id, told, limits_version, bool(new_readings),
                            bool(new_events) or setup != told.setup, tz)
    if not (new_readings or new_events or new_alarms or clock != told.clock or limits is not None
            or session_changed):
        return None
    told.cursor = Cursor(
        new_readings[-1].id if new_readings else told.cursor.reading,
        new_events[-1].id if new_events else told.cursor.event,
        new_alarms[-1].rev if new_alarms else told.cursor.alarm,
    )
    data = encode_update([s.reading for s in new_readings], [s.event for s in new_events], tz)
    if new_alarms:
        data["a"] = [alarm_payload(a, tz) for a in new_alarms]
    if clock != told.clock:
        data["k"] = told.clock = clock
    if limits is not None:
        data["L"] = limits
    if session_changed:
        data["S"] = session_payload(store, session_id, tz)
        told.setup = setup
    return data, len(new_readings) == BATCH_LIMIT or len(new_events) == BATCH_LIMIT


def _moved_on(store: Store, info: SessionInfo) -> bool:
    """The session has ended and its bed has opened the next one: a bed's view follows its bed to the next patient
    (the page, rebuilt, shows the bed's session now)."""
    if info.ended is None or info.bed_id is None:
        return False
    return store.beds.open_session(info.bed_id) not in (None, info.id)


@dataclass
class Message:
    """One SSE message of a stream's loop: `more`, a full batch was read (send the next at once); `last`, the
    stream ends after it."""

    text: str
    more: bool = False
    last: bool = False


def sse_loop(store: Store, next_message: Callable[[], Message | None],
             signed_in: Callable[[], bool]) -> Iterator[str]:
    """What every stream does around its own messages: each `next_message` as the store changes, a heartbeat
    comment while nothing does, and `{"signedOut": true}` last once the viewer's sign-in has ended (sign-out,
    disabled account), checked every SIGN_IN_CHECK_S."""
    yield "retry: 1000\n\n"
    checked = last_sent = time.monotonic()
    generation = store.generation
    while True:
        if time.monotonic() - checked >= SIGN_IN_CHECK_S:
            if not signed_in():
                yield sse_message({"signedOut": True})
                return
            checked = time.monotonic()
        message = next_message()
        if message is not None:
            yield message.text
            if message.last:
                return
            last_sent = time.monotonic()
            if message.more:
                continue
        elif time.monotonic() - last_sent >= HEARTBEAT_S:
            yield ": ping\n\n"
            last_sent = time.monotonic()
        generation = store.wait_for_change(generation, POLL_S)


def stream_updates(store: Store, session_id: int, cursor: Cursor, tz: tzinfo,
                   signed_in: Callable[[], bool] = lambda: True) -> Iterator[str]:
    """Generate SSE text until the viewer's sign-in ends: updates when the store changes, a heartbeat
    comment otherwise.

    `{"reset": true}` ends the stream when the page must be rebuilt: a replay rewound, or the session ended and its
    bed opened the next one.
    Besides readings and events a message may carry alarm changes (`a`), the session clock (`k`),
    on connecting and whenever the limit lines change (a new version, the first data, a dose fixing the rise
    baseline) the limits to draw (`L`), and on connecting and when the session's facts change (set-up, an
    event entered, corrected or withdrawn, an NIBP measurement, its end) the session (`S`), with the events in
    force that the trend draws.
    `{"signedOut": true}` is the last message of a stream whose sign-in ended (sign-out, disabled account).
    """
    epoch = store.sessions.info(session_id).epoch
    told = _Told(cursor)

    def next_message() -> Message | None:
        info = store.sessions.info(session_id)
        if info.epoch != epoch or _moved_on(store, info):  # the browser must rebuild from the store
            return Message(sse_message({"reset": True}), last=True)
        update = _next_update(store, info, told, tz)
        if update is None:
            return None
        data, more = update
        return Message(sse_message(data, told.cursor), more=more)

    return sse_loop(store, next_message, signed_in)


def ending_on_exit(stream: Iterator[str]) -> Iterator[str]:
    """`stream`, ended like any other when its thread is told to exit.

    Dash's test server (dash.testing) stops by raising SystemExit in every thread it started, and a stream
    waiting for the store's next change is one. Uncaught, that is an unhandled exception in the thread (which
    pytest reports on whatever test runs next); caught here, the stream ends as when its viewer leaves.
    """
    try:
        yield from stream
    except SystemExit:
        return


def register_stream(server: Flask, store: Store, tz: tzinfo) -> None:
    """Add `urls.STREAM` to the Flask server behind the Dash app, and have the store hear other processes'
    commits (an acquisition process writing the readings it shows)."""
    store.watch_changes()

    @server.route(urls.STREAM)
    def api_stream() -> Response:
        try:
            session_id = int(request.args["session"])
            store.sessions.info(session_id)
        except (KeyError, ValueError):
            return Response("unknown or missing session\n", status=404, mimetype="text/plain")
        cursor = Cursor.parse(request.headers.get("Last-Event-ID") or request.args.get("cursor"))
        return Response(
            ending_on_exit(stream_updates(store, session_id, cursor, tz, stream_alive())),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
