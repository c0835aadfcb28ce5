"""Which session a bed-view request acts on: the one its page shows.

The page is built for its bed's session of the moment (`DashboardConfig.session`, asked on every load) and keeps
that session's id (`ids.SHOWN_SESSION`). Every server callback that acts on a session takes it from there, so an
app is not bound to one session when it is built, and a page never acts on a session other than the one on
its screen, even after its bed has moved on to the next.
"""

from __future__ import annotations

from dash import State

from monitor.store import Store
from monitor.web.auth import refuse_request
from monitor.web.bed import ids

SHOWN = State(ids.SHOWN_SESSION, "data")  # the last State of every callback that acts on the shown session


def shown_session(store: Store, session_id: int) -> int:
    """`session_id` as the page sent it, if such a session exists (a forged one is answered 400)."""
    try:
        store.sessions.info(session_id)
    except KeyError:
        refuse_request(f"no session {session_id}")
    return session_id
