"""The central view's one stream: every bed of the site on one Server-Sent-Events connection per tab.

Each message is `{"u": [update, ...]}`, one update per bed that changed since the last message. A bed's first
update on a connection, and any after its bed moved to another session or its replay rewound, is a snapshot
(`"full": 1`: its latest values, a 30-minute trend, its displayed alarms, link and session); later ones carry only
what is new: the tile's readings (`r`, NIBP, HR and SpO2 only), alarm changes (`a`), the link (`l`), the session
clock (`k`) and, when the session's facts change, what the tile shows of them (`T`). Every update carries its
bed's store cursor (`c`): the browser resumes from its own (`?b=TOKEN` per bed, `parse_tokens`), so a reconnect
neither misses nor doubles anything, per bed. The loop wakes on the store's change signal like the bed view's.

On a central server that acquires no bed (`site.remote`), a bed may have no session yet (its snapshot has `"s"`
null and nothing else to show), and each update says whether its chair computer is heard from (`h`: why the bed is
offline, or null), on snapshots and whenever that changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from flask import Flask, Response, request

from adapters.model.reading import LINK_LOST, LINK_RESTORED, Event
from monitor.limits.model import Limits, limits_from_stored
from monitor.store import Cursor, SessionInfo, Store, StoredAlarm
from monitor.web import urls
from monitor.web.auth import stream_alive
from monitor.web.bed.alarm_view import alarm_payload
from monitor.web.bed.figures import display_ms
from monitor.web.bed.session_view import session_payload
from monitor.web.bed.state import stream_config
from monitor.web.site.remote import RemoteBeds
from monitor.web.stream import (
    BATCH_LIMIT,
    Message,
    clock_payload,
    compact,
    ending_on_exit,
    sse_loop,
    sse_message,
)

TILE_VITALS = ("sbp", "dbp", "hr", "spo2")  # what a tile shows: the last NIBP, HR and SpO2
TREND_VITALS = ("sbp", "hr")  # the tile's small trend
TREND_WINDOW = timedelta(minutes=30)
TREND_STEP_MS = 15_000  # the trend keeps one HR point per 15 s (the last): ~120 points a tile, in the browser too
# What a tile needs of the session's facts (`session_payload`) to say where the session stands, as the bed view's
# session strip does (assets/vigil_session.js `render`, which the central view calls).
TILE_SESSION_KEYS = ("typeLabel", "patient", "anchor", "anchorLabel", "obsEnd", "obsMinimum", "checkpoints",
                     "entered", "doses", "baseline", "ended", "endedBy")


@dataclass(frozen=True)
class SiteBed:
    """A bed as the central view shows it; `session` names its session now (a bed moves on after 'end session'; None:
    a bed a chair computer acquires has had none yet)."""

    id: str
    label: str
    session: Callable[[], int | None]


@dataclass
class _Told:
    """What this stream has told its viewer of one bed (`session` None: that it has none yet)."""

    session: int | None
    epoch: int
    cursor: Cursor
    clock: dict | None = None
    setup: tuple | None = None
    offline: str | None = None  # why its chair computer is offline, as told (`site.remote`)


def parse_tokens(tokens: Sequence[str]) -> dict[str, _Told]:
    """The viewer's resume tokens, `bed.session.epoch.r-e-a` (bed ids hold no '.'), by bed: where the viewer stands
    on each. A malformed one is left out: that bed starts afresh with a snapshot."""
    found = {}
    for token in tokens:
        parts = token.split(".")
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            found[parts[0]] = _Told(int(parts[1]), int(parts[2]), Cursor.parse(parts[3]))
    return found


def cursor_list(cursor: Cursor) -> list[int]:
    return [cursor.reading, cursor.event, cursor.alarm]


def site_alarm(stored: StoredAlarm, bed_id: str, tz: tzinfo) -> dict:
    """An alarm as the bed view gets it, its tiles named per bed (`chair-3/hr`, and `chair-3` for the whole tile), so
    that one page's alarm state (assets/vigil_alarms.js) holds every bed's alarms apart."""
    payload = alarm_payload(stored, tz)
    payload["bed"] = bed_id
    payload["tiles"] = [bed_id, *(f"{bed_id}/{tile}" for tile in payload["tiles"])]
    return payload


def displayed(stored: StoredAlarm) -> bool:
    """On screen: active, or a high-priority alarm latched until acknowledged (the rule of vigil_alarms.js)."""
    e = stored.episode
    return e.end is None or (e.priority == "high" and stored.acked_at is None)


def link_state(events: Sequence[Event]) -> list | None:
    """`[lost, reason]` after the last link event among `events` (None without one): an unplugged monitor."""
    last = next((e for e in reversed(events) if e.kind in (LINK_LOST, LINK_RESTORED)), None)
    return None if last is None else [int(last.kind == LINK_LOST), last.text]


def tile_session(store: Store, session_id: int, tz: tzinfo) -> dict:
    payload = session_payload(store, session_id, tz)
    return {key: payload[key] for key in TILE_SESSION_KEYS}


def _setup(info: SessionInfo) -> tuple:
    return info.session_type, info.patient_label, info.ended, info.amendments


def trend_points(readings: list, tz: tzinfo) -> dict[str, list]:
    """The tile's trend: every SBP, and HR as the last reading of each TREND_STEP_MS (as the browser adds them)."""
    points: dict[str, list] = {vital: [] for vital in TREND_VITALS}
    for r in readings:
        if r.vital not in points:
            continue
        point, line = [display_ms(r.time, tz), compact(r.value)], points[r.vital]
        if r.vital == "hr" and line and line[-1][0] // TREND_STEP_MS == point[0] // TREND_STEP_MS:
            line[-1] = point
        else:
            line.append(point)
    return points


def no_session(bed_id: str, offline: str | None) -> tuple[dict, _Told]:
    """The tile of a bed with no session yet (its chair computer has never opened one)."""
    return {"b": bed_id, "full": 1, "s": None, "h": offline, "c": [0, 0, 0]}, _Told(None, 0, Cursor(0, 0, 0),
                                                                                   offline=offline)


def snapshot(store: Store, bed_id: str, session_id: int, tz: tzinfo) -> tuple[dict, _Told]:
    """A bed's tile whole, read up to one store cursor, and what the viewer then knows."""
    cursor = store.samples.cursor(session_id)
    info = store.sessions.info(session_id)
    latest = store.samples.latest(session_id, max_id=cursor.reading)
    newest = max((r.time for r in latest.values()), default=None)
    recent = [] if newest is None else store.samples.readings(session_id, newest - TREND_WINDOW, None,
                                                              max_id=cursor.reading)
    stored = store.limits.current(session_id)
    limits = Limits() if stored is None else limits_from_stored(stored)
    told = _Told(session_id, info.epoch, cursor, clock_payload(info, tz), _setup(info))
    return {
        "b": bed_id, "full": 1, "s": session_id, "ep": info.epoch, "c": cursor_list(cursor),
        "v": {code: [display_ms(r.time, tz), compact(r.value)] for code, r in latest.items() if code in TILE_VITALS},
        "t": trend_points(recent, tz),
        "a": [site_alarm(a, bed_id, tz) for a in store.alarms.since(session_id) if a.rev <= cursor.alarm
              and displayed(a)],
        "l": link_state(store.samples.events(session_id, cursor.event)),
        "k": told.clock, "T": tile_session(store, session_id, tz),
        "st": stream_config(info, cursor, limits.technical, TREND_WINDOW)["staleS"],
    }, told


def delta(store: Store, bed_id: str, info: SessionInfo, told: _Told, tz: tzinfo,
          stored: Cursor) -> tuple[dict | None, bool]:
    """What is new on a bed since `told` (None: nothing the tile shows), moving `told` on; and whether a full batch
    was read (more is waiting). `stored`: the bed's store cursor a moment ago, which says what to read."""
    session_id, at = info.id, told.cursor
    readings = (store.samples.readings_since(session_id, at.reading, BATCH_LIMIT) if stored.reading > at.reading
                else [])
    events = store.samples.events_since(session_id, at.event, BATCH_LIMIT) if stored.event > at.event else []
    alarms = store.alarms.since(session_id, at.alarm) if stored.alarm > at.alarm else []
    more = BATCH_LIMIT in (len(readings), len(events))
    told.cursor = Cursor(readings[-1].id if readings else at.reading, events[-1].id if events else at.event,
                         alarms[-1].rev if alarms else at.alarm)
    update: dict = {"b": bed_id}
    shown = [[display_ms(s.reading.time, tz), s.reading.vital, compact(s.reading.value)] for s in readings
             if s.reading.vital in TILE_VITALS]
    if shown:
        update["r"] = shown
    if alarms:
        update["a"] = [site_alarm(a, bed_id, tz) for a in alarms]
    link = link_state([s.event for s in events])
    if link is not None:
        update["l"] = link
    clock = clock_payload(info, tz)
    if clock != told.clock:
        update["k"] = told.clock = clock
    if _setup(info) != told.setup or events or any(s.reading.vital == "sbp" for s in readings):
        update["T"] = tile_session(store, session_id, tz)
        told.setup = _setup(info)
    if len(update) == 1:  # only readings no tile shows (PR, RR, MAP): the next update's cursor covers them
        return None, more
    update["c"] = cursor_list(told.cursor)
    return update, more


def site_updates(store: Store, beds: Sequence[SiteBed], known: dict[str, _Told], tz: tzinfo,
                 remote: RemoteBeds | None = None) -> tuple[list, bool]:
    """One pass over the beds: each one's update (a snapshot where the viewer's view of it no longer holds).

    Two queries for all beds find the ones with something new (`infos`, `cursors`); only those are read further:
    at one reading a second per bed most passes follow one bed's write. `remote`: the beds are acquired by chair
    computers (their sessions found in one query more, and their holders read every second)."""
    sessions = remote.sessions() if remote is not None else {bed.id: bed.session() for bed in beds}
    offline = remote.offline(tz) if remote is not None else {}
    present = [s for s in sessions.values() if s is not None]
    infos, cursors = store.sessions.infos(present), store.samples.cursors(present)
    updates, more = [], False
    for bed in beds:
        told, session_id, why = known.get(bed.id), sessions.get(bed.id), offline.get(bed.id)
        if session_id is None:
            if told is None or told.session is not None or told.offline != why:
                whole, known[bed.id] = no_session(bed.id, why)
                updates.append(whole)
            continue
        info = infos[session_id]
        if told is None or told.session != session_id or told.epoch != info.epoch:
            whole, known[bed.id] = snapshot(store, bed.id, session_id, tz)
            if remote is not None:
                whole["h"] = known[bed.id].offline = why
            updates.append(whole)
            continue
        if (told.cursor == cursors[session_id] and told.setup == _setup(info)
                and told.clock == clock_payload(info, tz) and told.offline == why):
            continue  # nothing new on this bed
        update, full_batch = delta(store, bed.id, info, told, tz, cursors[session_id])
        if why != told.offline:
            update = (update or {"b": bed.id, "c": cursor_list(told.cursor)}) | {"h": why}
            told.offline = why
        more = more or full_batch
        if update is not None:
            updates.append(update)
    return updates, more


def stream_site(store: Store, beds: Sequence[SiteBed], known: dict[str, _Told], tz: tzinfo,
                signed_in: Callable[[], bool] = lambda: True,
                notices: Callable[[], list[str]] = list, remote: RemoteBeds | None = None) -> Iterator[str]:
    """SSE text until the viewer's sign-in ends (`stream.sse_loop`, as the bed view's stream): the beds' updates
    as the store changes. `n`: the site's notices for the admin (an HL7 sender no bed claims), whole, on
    connecting and whenever they change."""
    told_notices: list[str] | None = None

    def next_message() -> Message | None:
        nonlocal told_notices
        updates, more = site_updates(store, beds, known, tz, remote)
        message: dict = {"u": updates} if updates else {}
        if (current := notices()) != told_notices:
            message["n"] = told_notices = current
        return Message(sse_message(message), more=more) if message else None

    return sse_loop(store, next_message, signed_in)


def register_site_stream(server: Flask, store: Store, beds: Sequence[SiteBed], tz: tzinfo,
                         notices: Callable[[], list[str]] = list, remote: RemoteBeds | None = None) -> None:
    """Add `urls.SITE_STREAM` to the site's server (behind the sign-in guard, as every route), and have the store
    hear other processes' commits (the chairs' acquisitions)."""
    store.watch_changes()

    @server.route(urls.SITE_STREAM)
    def site_stream() -> Response:
        known = parse_tokens(request.args.getlist("b"))
        return Response(ending_on_exit(stream_site(store, beds, known, tz, stream_alive(), notices, remote)),
                        mimetype="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
