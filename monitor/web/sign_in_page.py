"""The server's own pages, plain HTML (no script), in Vigil's dark style: the sign-in page, which works before any
Dash code loads, and the page a browser gets for a page its role may not see (403)."""

from flask import render_template_string, request
from werkzeug.exceptions import Forbidden, HTTPException

from monitor.auth.roles import Permission
from monitor.web import urls

_STYLE = """
  body { background: #101418; color: #e8edf2; font-family: system-ui, sans-serif; display: flex;
         justify-content: center; align-items: center; min-height: 100vh; margin: 0; }
  form, .box { background: #1b2128; padding: 2rem 2.5rem; border-radius: 8px; width: 22rem; }
  .box form { padding: 0; width: auto; display: inline; }
  h1 { margin: 0 0 1.5rem; font-size: 1.6rem; } h1 span { color: #8fa3b8; font-weight: normal; }
  label { display: block; margin: 1rem 0 0.3rem; font-size: 1.05rem; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: 0.6rem;
         font-size: 1.1rem; border-radius: 4px; border: 1px solid #3a4552; background: #0d1115; color: #e8edf2; }
  button { margin-top: 1.5rem; width: 100%; padding: 0.7rem; font-size: 1.1rem; border: 0; border-radius: 4px;
           background: #2f6fd1; color: #fff; cursor: pointer; }
  .message { margin-top: 1rem; padding: 0.6rem; border-radius: 4px; background: #5a1d1d; color: #ffd7d7; }
  .disclaimer { margin-top: 1.5rem; font-size: 0.8rem; color: #8fa3b8; }
  .actions { display: flex; gap: 1rem; align-items: center; margin-top: 1.5rem; }
  .actions a { color: #90caf9; font-size: 1.05rem; }
  .actions button { margin: 0; width: auto; padding: 0.4rem 1rem; font-size: 1rem; background: #3a4552; }
"""


def _page(title: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>Vigil — {title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


SIGN_IN_PAGE = _page("sign in", """<form method="post" action="{{ action }}">
  <h1>Vigil <span>sign in</span></h1>
  <input type="hidden" name="_csrf_token" value="{{ csrf_token() }}">
  <input type="hidden" name="next" value="{{ next }}">
  <label for="name">Name</label>
  <input type="text" id="name" name="name" value="{{ name }}" autocomplete="username" autofocus required>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required>
  {% if message %}<div class="message" id="sign-in-message" role="alert">{{ message }}</div>{% endif %}
  <button type="submit" id="sign-in">Sign in</button>
  <div class="disclaimer">Decision support only — not a medical device.</div>
</form>""")

# What a refused page request lacked, as the page says it ("A nurse may not see the audit trail").
NEEDS = {
    Permission.VIEW: "view the bed view and the session records",
    Permission.ACKNOWLEDGE: "acknowledge alarms",
    Permission.EVENTS: "enter dose events",
    Permission.NOTES: "add notes",
    Permission.END: "end a session",
    Permission.OVERRIDE: "override the BP gate or the discharge guard",
    Permission.LIMITS: "change alarm limits",
    Permission.SETUP: "change a session's set-up",
    Permission.REPLAY: "control a replay",
    Permission.AUDIT: "see the audit trail",
    Permission.USERS: "manage users",
}

FORBIDDEN_PAGE = _page("Forbidden", """<div class="box" id="forbidden">
  <h1>Vigil <span>not allowed</span></h1>
  {% if who %}<p>You are signed in as <b>{{ who }}</b>{% if role %} ({{ role }}){% endif %}.</p>{% endif %}
  <p class="message" id="forbidden-reason">{{ reason }}</p>
  <div class="actions">
    {% if bed_view %}<a href="{{ bed_view }}" id="back-to-bed-view">Back to the bed view</a>{% endif %}
    {% if who %}<form method="post" action="{{ sign_out }}">
      <input type="hidden" name="_csrf_token" value="{{ csrf_token() }}">
      <button type="submit" id="forbidden-sign-out">Sign out</button>
    </form>{% endif %}
  </div>
  <div class="disclaimer">Ask an administrator if your role should allow this.</div>
</div>""")


def sign_in_page(target: str, message: str = "", name: str = "") -> str:
    """The page, leading to `target` once signed in; `message` says why the last attempt was refused."""
    return render_template_string(SIGN_IN_PAGE, action=urls.SIGN_IN, next=target, message=message, name=name)


class Refused(Forbidden):
    """The 403 of a request the user's role may not make, knowing what it lacked (the 403 page says so)."""

    def __init__(self, who: str, role: str | None, permission: Permission, can_view: bool) -> None:
        super().__init__(description=f"{role or 'this user'} may not {permission.value}")
        self.who, self.role, self.permission, self.can_view = who, role, permission, can_view


def forbidden_answer(error: HTTPException) -> HTTPException | tuple[str, int]:
    """A browser asking for a page gets the 403 page: who is signed in, what their role lacks, the way back to
    the bed view (if the role may see it) and a sign-out. Anything else (a callback, a script, a form post) gets
    the plain answer."""
    if request.method != "GET" or not request.accept_mimetypes.accept_html:
        return error
    if not isinstance(error, Refused):
        return _forbidden_page(error.description or "Not allowed.", None, None, True), 403
    reason = f"A {error.role or 'user without a role'} may not {NEEDS[error.permission]}."
    return _forbidden_page(reason, error.who, error.role, error.can_view), 403


def _forbidden_page(reason: str, who: str | None, role: str | None, can_view: bool) -> str:
    return render_template_string(FORBIDDEN_PAGE, reason=reason, who=who, role=role, sign_out=urls.SIGN_OUT,
                                  bed_view=urls.BED_VIEW if can_view else None)
