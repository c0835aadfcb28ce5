"""What the bed view is built from on load: everything read consistently up to one store cursor, which the
page's stream then continues from (nothing missed, nothing doubled)."""

from __future__ import annotations

from datetime import timedelta, tzinfo

from adapters.model.vitals import NIBP_CODES, VITALS
from monitor.limits.model import Limits, TechnicalLimits, limits_from_stored
from monitor.session.limit_lines import stored_limit_lines
from monitor.store import Cursor, SessionInfo, Store
from monitor.web import urls
from monitor.web.audit import audit_rows
from monitor.web.bed import figures, ids
from monitor.web.bed.alarm_view import AUDIO_PAUSE_S, REMINDER_S, alarm_payload
from monitor.web.bed.session_view import session_payload
from monitor.web.stream import clock_payload


def stream_config(info: SessionInfo, cursor: Cursor, technical: TechnicalLimits, window: timedelta) -> dict:
    """What the browser scripts need to follow the stream: where to start, how to plot, when a value is stale,
    and the component ids and paths they use."""
    return {
        "session": info.id,
        "cursor": str(cursor),
        "traceIndex": figures.TRACE_INDEX,
        "eventTrace": figures.EVENT_TRACE,
        "labelTrace": figures.LABEL_TRACE,
        "eventSpan": list(figures.EVENT_SPAN),
        # One window for every trace, as on load: the browser keeps [newest - window, newest] and shows just that.
        "windowMs": int(window.total_seconds() * 1000),
        "staleS": {
            "nibp": technical.nibp_overdue_s or 17 * 60,
            "continuous": technical.signal_loss_s,
        },
        "nibp": list(NIBP_CODES),
        "audioPauseS": AUDIO_PAUSE_S,
        "reminderS": REMINDER_S,
        "sessionType": info.session_type,
        "ids": ids.browser_ids(),
        "urls": urls.browser_urls(),
    }


def initial_state(store: Store, sid: int, tz: tzinfo, window: timedelta) -> dict:
    """Everything the page needs at load, read consistently up to one cursor; the trend shows `window`."""
    cursor = store.samples.cursor(sid)
    info = store.sessions.info(sid)
    latest = store.samples.latest(sid, max_id=cursor.reading)
    newest = max((r.time for r in latest.values()), default=None)
    start = None if newest is None else newest - window
    window_readings = store.samples.readings(sid, start, None, max_id=cursor.reading)
    events = store.samples.events(sid, cursor.event)
    stored_limits = store.limits.current(sid)
    limits = Limits() if stored_limits is None else limits_from_stored(stored_limits)
    session = session_payload(store, sid, tz)
    x_range = None if newest is None else (figures.display_ms(newest - window, tz), figures.display_ms(newest, tz))
    figure = figures.trend_dict(window_readings, events, stored_limit_lines(store, sid), tz,
                                extra_shapes=session["shapes"], x_range=x_range)
    latest_data = {
        "v": {code: [figures.display_ms(r.time, tz), r.value] for code, r in latest.items() if code in VITALS},
        "dose": session["anchor"],  # time zero, as the session's facts say (they follow a corrected dose)
        "k": clock_payload(info, tz),
    }
    alarms = [alarm_payload(a, tz) for a in store.alarms.since(sid) if a.rev <= cursor.alarm]
    return {
        "info": info, "figure": figure,
        "stream_config": stream_config(info, cursor, limits.technical, window), "latest": latest_data,
        "alarms": alarms, "limits": limits,
        "audit": audit_rows(store.audit.entries(session_id=sid), tz), "session": session,
    }
