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
from monitor.store import Cursor, SessionInfo, Store
from monitor.web import urls
from monitor.web.auth import stream_alive
from monitor.web.bed.alarm_view import alarm_payload
from monitor.web.bed.figures import display_ms, limit_shapes, trend_label
from monitor.web.bed.session_view import session_payload

POLL_S = 0.25
HEARTBEAT_S = 15.0
SIGN_IN_CHECK_S = 2.0  # how soon a sign-out or a disabled account ends an open stream
BATCH_LIMIT = 2000


def clock_payload(info: SessionInfo, tz: tzinfo) -> dict:
    """The session clock as the browser needs it to tick "now" between messages."""
    return {
        "pos": None if info.clock_pos is None else display_ms(info.clock_pos, tz),
        "wall": None if info.clock_wall_us is None else info.clock_wall_us // 1000,
        "speed": info.clock_speed or 0.0,
        "epoch": info.epoch,
        "span": [
            None if info.span_start is None else display_ms(info.span_start, tz),
            None if info.span_end is None else display_ms(info.span_end, tz),
        ],
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


def limits_payload(store: Store, session_id: int, version: int) -> dict:
    """The limits in force as the browser needs them: the bands and lines to draw, and the values shown beside
    the numerics."""
    data = store.limits.current(session_id)
    limits = Limits() if data is None else limits_from_stored(data)
    return {"version": version, "preset": limits.preset, "shapes": limit_shapes(limits), "values": limits.to_dict()}


@dataclass
class _Told:
    """What a stream has told its viewer so far, so that each message carries only what changed."""

    cursor: Cursor
    clock: dict | None = None
    limits: int | None = None
    setup: tuple | None = None


def _next_update(store: Store, info: SessionInfo, told: _Told, tz: tzinfo) -> tuple[dict, bool] | None:
    """The next message and whether it holds a full batch (more is waiting), moving `told` on; None if nothing
    changed."""
    session_id = info.id
    new_readings = store.samples.readings_since(session_id, told.cursor.reading, BATCH_LIMIT)
    new_events = store.samples.events_since(session_id, told.cursor.event, BATCH_LIMIT)
    new_alarms = store.alarms.since(session_id, told.cursor.alarm)
    limits_version = store.limits.version(session_id)
    clock = clock_payload(info, tz)
    setup = (info.session_type, info.patient_label, info.bed, info.ended)
    session_changed = (setup != told.setup or bool(new_events)
                       or any(s.reading.vital == "sbp" for s in new_readings))
    if not (new_readings or new_events or new_alarms or clock != told.clock or limits_version != told.limits
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
    if limits_version != told.limits:
        data["L"] = limits_payload(store, session_id, limits_version)
        told.limits = limits_version
    if session_changed:
        data["S"] = session_payload(store, session_id, tz)
        told.setup = setup
    return data, len(new_readings) == BATCH_LIMIT or len(new_events) == BATCH_LIMIT


def stream_updates(store: Store, session_id: int, cursor: Cursor, tz: tzinfo,
                   signed_in: Callable[[], bool] = lambda: True) -> Iterator[str]:
    """Generate SSE text until the viewer's sign-in ends: updates when the store changes, a heartbeat
    comment otherwise.

    Besides readings and events a message may carry alarm changes (`a`), the session clock (`k`),
    on connecting and after each limits change the limits to draw (`L`), and on connecting and when
    the session's facts change (set-up, an event, an NIBP measurement, its end) the session (`S`).
    `{"signedOut": true}` is the last message of a stream whose sign-in ended (sign-out, disabled account).
    """
    yield "retry: 1000\n\n"
    epoch = store.sessions.info(session_id).epoch
    checked = time.monotonic()
    told = _Told(cursor)
    last_sent = time.monotonic()
    generation = store.generation
    while True:
        if time.monotonic() - checked >= SIGN_IN_CHECK_S:
            if not signed_in():
                yield sse_message({"signedOut": True})
                return
            checked = time.monotonic()
        info = store.sessions.info(session_id)
        if info.epoch != epoch:  # a replay rewound: the browser must rebuild from the store
            yield sse_message({"reset": True})
            return
        update = _next_update(store, info, told, tz)
        if update is not None:
            data, more = update
            yield sse_message(data, told.cursor)
            last_sent = time.monotonic()
            if more:
                continue
        elif time.monotonic() - last_sent >= HEARTBEAT_S:
            yield ": ping\n\n"
            last_sent = time.monotonic()
        generation = store.wait_for_change(generation, POLL_S)


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
    """Add `urls.STREAM` to the Flask server behind the Dash app."""

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
