"""Sign-in and authorization on the Flask server behind the Dash apps, and its hardening.

One `before_request` guard covers every route — pages, `/_dash-update-component`, `/api/stream`, the
records — except the sign-in page. Each state-changing Dash callback is wrapped in `require(permission)`,
so a request the role may not make is answered 403, changes nothing and is logged and audited, whatever
the screen showed. CSRF: Flask-SeaSurf, whose cookie and header names are the ones Dash's renderer sends
(`_csrf_token` → `X-CSRFToken`). Headers: Talisman with a CSP built from the Dash apps' `csp_hashes()`.
A request no page sends (too large, a callback request Dash could not follow, a value of the wrong type) is
a 4xx with one log line, never a 500 with a traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from dash import Dash
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    redirect,
    request,
    session,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_seasurf import SeaSurf
from flask_talisman import Talisman
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse  # what flask.redirect returns

from monitor.auth.accounts import Accounts, SignInRefused, User
from monitor.auth.roles import EVERYTHING, Permission
from monitor.store import Store
from monitor.web import urls
from monitor.web.sign_in_page import Refused, forbidden_answer, sign_in_page

log = logging.getLogger(__name__)
PUBLIC_PATHS = (urls.SIGN_IN, urls.SIGN_OUT)  # sign-out works for a sign-in the idle timeout ended, too
SESSION_TOKEN = "_user_id"  # where Flask-Login keeps the user id (our sign-in token) in the session
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
PAGE_PERMISSIONS = {urls.AUDIT: Permission.AUDIT, urls.USERS: Permission.USERS}  # pages (and their Dash routes)
EXTENSION = "vigil_auth"
# Requests over this size are refused (413) before they are read. The largest a Vigil page sends are callbacks
# of a few kilobytes (a note, refused over 2000 bytes anyway; the limits editor's fields): ample room.
MAX_REQUEST_BYTES = 1024 * 1024
CALLBACK_ROUTE = "_dash-update-component"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AuthSettings:
    required: bool = True  # False only for a local demo or --no-auth on a loopback address
    idle: timedelta | None = timedelta(minutes=15)  # no action for this long ends a sign-in
    https: bool = False  # served over TLS: cookies are marked Secure and HSTS is sent
    no_login_label: str = "no login — this computer only"  # the badge shown when sign-in is off


@dataclass(frozen=True)
class Actor:
    """Who is making this request, and what they may do."""

    name: str
    role: str | None  # None when sign-in is off
    permissions: frozenset[Permission]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


class SignedIn(UserMixin):
    """Flask-Login's user: the sign-in token (the id kept in the session cookie) and whose it is."""

    def __init__(self, token: str, user: User) -> None:
        self.token, self.user = token, user

    def get_id(self) -> str:
        return self.token


@dataclass
class _State:
    settings: AuthSettings
    accounts: Accounts
    store: Store
    operator: str  # who acts when sign-in is off


def _state() -> _State:
    return current_app.extensions[EXTENSION]


NOBODY = Actor("nobody", None, frozenset())


def current_actor() -> Actor:
    """The user of this request. Outside a request (Dash builds the layout once at start-up to check it)
    nobody is asking, and nobody may do anything."""
    if not has_request_context():
        return NOBODY
    state = _state()
    if not state.settings.required:
        return Actor(state.operator, None, EVERYTHING)
    if current_user.is_authenticated:
        user = current_user.user
        return Actor(user.name, user.role, user.permissions)
    return Actor("anonymous", None, frozenset())


def current_token() -> str | None:
    """The sign-in token of this request, or None when sign-in is off."""
    return current_user.token if _state().settings.required and current_user.is_authenticated else None


def sign_in_required() -> bool:
    return _state().settings.required


def no_login_label() -> str:
    return _state().settings.no_login_label


def csrf_token() -> str:
    """This session's CSRF token, for a plain HTML form (sign-out) inside a Dash page."""
    token = current_app.jinja_env.globals["csrf_token"]  # SeaSurf's, set up by `install`
    assert callable(token)
    return str(token())


def record_refusal(actor: Actor, permission: Permission, what: str) -> None:
    """Log and audit something `actor` may not do. No patient data goes in the log line."""
    log.warning("forbidden: %s (%s) may not %s", actor.name, actor.role, permission.value)
    _state().store.audit.write(actor.name, "forbidden", what, "", f"needs {permission.value}")


def refuse(actor: Actor, permission: Permission, what: str) -> NoReturn:
    """Log and audit a forbidden request, then answer it 403: nothing else happens."""
    record_refusal(actor, permission, what)
    raise Refused(actor.name, actor.role, permission, actor.can(Permission.VIEW))


def require(permission: Permission) -> Callable[[F], F]:
    """Wrap a Dash callback so it runs only for a user allowed `permission` (else 403 and nothing changes), and
    only with values of the types its parameters are annotated with, which are what the page sends (else 400).

    The permission is kept on the function (`.permission`) so a test can prove every callback has one.
    """

    def wrap(callback: F) -> F:
        hints = typing.get_type_hints(callback)
        names = list(inspect.signature(callback).parameters)  # Dash passes the values in this order

        @functools.wraps(callback)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if not actor.can(permission):
                refuse(actor, permission, callback.__name__)
            for name, value in zip(names, args, strict=False):
                if name in hints and not json_fits(value, hints[name]):
                    refuse_request(f"{callback.__name__}: {name} is not {hints[name]}")
            return callback(*args, **kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return wrap


def json_fits(value: Any, hint: Any) -> bool:
    """Whether a value from a request's JSON is of the annotated type: str, int, float (an int is one too), bool,
    dict, list, list[X], None, Any, or a union of these."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(json_fits(value, arg) for arg in args)
    if origin is list:
        return isinstance(value, list) and all(json_fits(item, args[0]) for item in value)
    if hint is float:
        return type(value) in (int, float)
    return type(value) is (origin or hint)  # None is NoneType here, as typing.get_type_hints gives it


def refuse_request(what: str) -> NoReturn:
    """Answer 400 to a request no Vigil page sends (a forged or broken one), with one line in the log."""
    log.warning("refused a request to %s: %s", request.path, what)
    abort(400, description=what)


def secret_key(store: Store) -> str:
    """The key that signs session cookies: generated once, kept in the store so every process serving this
    database (and a restart) accepts the same cookies."""
    return store.users.setting("secret_key", lambda: secrets.token_hex(32))


def content_security_policy(apps: Iterable[Dash]) -> dict:
    """Scripts only from this server plus Dash's own inline scripts, by hash; no eval (SVG plots only).
    Styles may be inline: Dash and Mantine set them at run time."""
    hashes = sorted({h for app in apps for h in app.csp_hashes()})
    return {
        "default-src": "'self'",
        "script-src": ["'self'", *hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
        "form-action": "'self'",
    }


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path on this server, never another site."""
    if not target:
        return urls.BED_VIEW
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return urls.BED_VIEW
    return target


def install(server: Flask, store: Store, auth: AuthSettings, apps: Iterable[Dash], operator: str) -> None:
    """Sign-in (if required), the guard, CSRF protection and security headers, on `server`.

    `operator` is who acts when sign-in is off. Call after every Dash app on the server has its callbacks:
    their inline-script hashes go in the CSP.
    """
    apps = list(apps)
    accounts = Accounts(store)
    server.extensions[EXTENSION] = _State(auth, accounts, store, operator)
    server.secret_key = secret_key(store)
    server.config.update(
        SESSION_COOKIE_NAME="vigil_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=auth.https, CSRF_COOKIE_SECURE=auth.https, CSRF_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    if not auth.required:  # a page elsewhere whose name is re-pointed at 127.0.0.1 (DNS rebinding) gets a 400
        server.config["TRUSTED_HOSTS"] = LOOPBACK_HOSTS
    server.register_error_handler(403, forbidden_answer)
    csrf = SeaSurf()
    if auth.required:
        _install_sign_in(server, accounts, auth, csrf)
    csrf.init_app(server)  # after the guard: an anonymous request is refused before its token is looked at
    _refuse_malformed_requests(server, apps)  # after both: a request from nobody is not worth reading
    Talisman(
        server, force_https=False, strict_transport_security=auth.https, session_cookie_secure=auth.https,
        content_security_policy=content_security_policy(apps), frame_options="DENY", referrer_policy="same-origin",
    )


def callback_request_problem(callbacks: dict[str, dict], body: Any) -> str | None:
    """What makes `body` unlike any request Dash's renderer sends for one of `callbacks` (a Dash app's
    `callback_map`), or None if nothing does.

    Dash itself answers a request it cannot follow with an exception (a KeyError for an unknown callback, an
    AttributeError for a JSON array, an IndexError for missing inputs): a 500 and a traceback in the log.
    Checked first, such a request is a 400. The values' types are checked by `require`, their sense by the callback.
    """
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    spec = callbacks.get(output) if isinstance(output, str) else None
    if spec is None or "callback" not in spec:  # the others run in the browser
        return "no such callback"
    for part in ("inputs", "state"):
        if not _props_match(body.get(part, []), [d["id"] for d in spec[part]]):
            return f"its {part} are not the callback's"
    if not spec.get("no_output"):
        many = isinstance(spec["output"], list)
        declared = spec["output"] if many else [spec["output"]]
        if not _props_match(body.get("outputs") if many else [body.get("outputs")],
                            [o.component_id_str() for o in declared]):
            return "its outputs are not the callback's"
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return "changedPropIds is not a list of names"
    return None


def _props_match(given: Any, declared: list[str]) -> bool:
    """Whether `given` names one component property per declared id, as the renderer does: {"id", "property",
    ...}, or for a pattern matching any number of components (ALL, ALLSMALLER), a list of those it matched."""
    def prop(p: Any) -> bool:
        return isinstance(p, dict) and isinstance(p.get("id"), str | dict) and isinstance(p.get("property"), str)

    def fits(entry: Any, component_id: str) -> bool:
        if component_id.startswith("{") and ('["ALL"]' in component_id or '["ALLSMALLER"]' in component_id):
            return isinstance(entry, list) and all(map(prop, entry))
        return prop(entry)

    return isinstance(given, list) and len(given) == len(declared) and all(map(fits, given, declared))


def _refuse_malformed_requests(server: Flask, apps: Iterable[Dash]) -> None:
    """A callback request Dash could not follow is a 400, one over MAX_REQUEST_BYTES a 413: each with one line
    in the log (what, not the body), never a traceback."""
    callbacks = {app.config.routes_pathname_prefix + CALLBACK_ROUTE: app.callback_map for app in apps}

    @server.before_request
    def check_callback() -> None:
        if request.method != "POST" or request.path not in callbacks:
            return
        problem = callback_request_problem(callbacks[request.path], request.get_json(silent=True))
        if problem is not None:
            refuse_request(problem)

    @server.errorhandler(413)
    def too_large(error: HTTPException) -> HTTPException:
        log.warning("refused a request to %r of over %d bytes", request.path, MAX_REQUEST_BYTES)
        return error


def _install_sign_in(server: Flask, accounts: Accounts, auth: AuthSettings, csrf: SeaSurf) -> None:
    manager = LoginManager(server)

    @manager.user_loader
    def load(token: str) -> SignedIn | None:
        user = accounts.resume(token, auth.idle, touch=request.path not in urls.STREAMS)
        return None if user is None else SignedIn(token, user)

    @server.before_request
    def guard() -> BaseResponse | None:
        if request.path in PUBLIC_PATHS:
            return None
        if current_user.is_authenticated:
            if not current_user.user.can(Permission.VIEW):
                refuse(current_actor(), Permission.VIEW, request.path)
            for prefix, permission in PAGE_PERMISSIONS.items():
                if request.path.startswith(prefix) and not current_user.user.can(permission):
                    refuse(current_actor(), permission, request.path)
            return None
        if request.method == "GET" and request.accept_mimetypes.accept_html and request.path not in urls.STREAMS:
            return redirect(urls.sign_in_then(request.full_path.rstrip("?")))
        return Response("sign in first\n", status=401, mimetype="text/plain")

    @server.route(urls.SIGN_IN, methods=["GET", "POST"])
    def sign_in() -> BaseResponse | str | tuple[str, int]:
        target = safe_next(request.values.get("next"))
        if request.method != "POST":
            return sign_in_page(target)
        name = request.form.get("name", "")
        try:
            signed = accounts.sign_in(name, request.form.get("password", ""))
        except SignInRefused as exc:
            log.info("a sign-in was refused")
            return sign_in_page(target, str(exc), name), 401
        if session.get(SESSION_TOKEN):  # signing in over another sign-in ends that one
            accounts.sign_out(session[SESSION_TOKEN])
        session.clear()  # a new session for a new sign-in: nothing carried over from before it
        csrf.generate_new_token()
        login_user(SignedIn(signed.token, signed.user))
        return redirect(target)

    @server.route(urls.SIGN_OUT, methods=["POST"])
    def sign_out() -> BaseResponse:
        token = session.get(SESSION_TOKEN)
        if token:
            accounts.sign_out(token)
        logout_user()
        session.clear()
        csrf.generate_new_token()
        return redirect(urls.SIGN_IN)


def stream_alive() -> Callable[[], bool]:
    """For the live stream, which outlives its request: whether its sign-in still stands (`Accounts.watching`)."""
    state, token = _state(), current_token()
    if token is None:
        return lambda: True
    return lambda: state.accounts.watching(token)
