"""Every path the Vigil server answers, in one table: the modules that register a route and the pages that
link to one take it from here, so a route is renamed in one place and grep finds every use.

Rules with a parameter are Flask rules (`<int:session_id>`); the functions below them build the links.
Each Dash app also serves its own routes (`_dash-update-component` and the like) under its prefix.
The browser scripts get the paths they need from the server in the page's config (`browser_urls`), except
assets/vigil_auth.js, which runs on every page: its copy of SIGN_IN is checked by tests/test_web_names.py.
"""

from __future__ import annotations

from urllib.parse import quote

BED_VIEW = "/"  # the bed view (a Dash app at the root) of a one-bed server (monitor, replay, dashboard, demo)
SITE = "/"  # `vigil serve`: the central view, a tile per bed (a Dash app at the root of the site's server)
SITE_BED = "/bed/<bed_id>/"  # `vigil serve`: a bed's view (a Dash app per bed, at `site_bed(id)`)
HISTORY = "/sessions/"  # past sessions (a Dash app)
AUDIT = "/audit/"  # the audit trail of every session and user (a Dash app)
USERS = "/users/"  # the users page (a Dash app)
SIGN_IN = "/login"
SIGN_OUT = "/logout"
STREAM = "/api/stream"  # Server-Sent Events for one bed view tab: ?session=ID&cursor=C
SITE_STREAM = "/api/site-stream"  # Server-Sent Events for a central view tab, every bed: ?b=TOKEN per bed it resumes
REPORT_HTML = "/report/<int:session_id>.html"
REPORT_PDF = "/report/<int:session_id>.pdf"

DASH_APPS = (BED_VIEW, HISTORY, AUDIT, USERS)  # the prefixes under which each Dash app serves its own routes
ROUTES = (SIGN_IN, SIGN_OUT, STREAM, REPORT_HTML, REPORT_PDF)  # Vigil's own Flask routes
STREAMS = (STREAM, SITE_STREAM)  # live streams: they outlive their request, and following one is no user action


def site_bed(bed_id: str) -> str:
    """The prefix of a bed's view in `vigil serve` (bed ids are letters, digits and '-': nothing to quote)."""
    return SITE_BED.replace("<bed_id>", bed_id)


def report_html(session_id: int) -> str:
    return REPORT_HTML.replace("<int:session_id>", str(session_id))


def report_pdf(session_id: int) -> str:
    return REPORT_PDF.replace("<int:session_id>", str(session_id))


def sign_in_then(target: str) -> str:
    """The sign-in page, coming back to `target` (a path on this server) afterwards."""
    return f"{SIGN_IN}?next={quote(target, safe='/')}"


def browser_urls() -> dict[str, str]:
    """The paths the bed view's scripts (assets/vigil.js) use, by the names they use them under."""
    return {"stream": STREAM, "signIn": SIGN_IN}
