"""Users, sign-ins and lockout, kept in the store (tables `users`, `logins`, `login_failures`).

Sans-web: the Flask guard (`monitor.web.auth`) and `vigil user` both call this. Every change to a user and
every sign-in, sign-out and failed sign-in is appended to the audit trail. A refused sign-in always gives
the same message, whether the name is unknown, the password wrong or the account disabled, and costs the same.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.auth.passwords import hash_password, verify
from monitor.auth.roles import Permission, Role, permissions
from monitor.store import Store
from monitor.store.users import AccountError, StoredUser, UserListing

__all__ = ["REFUSED", "AccountError", "Accounts", "SignIn", "SignInRefused", "User", "UserListing", "check_name",
           "check_role"]

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
REFUSED = "Wrong name or password."
MAX_FAILURES = 5  # consecutive failures for one name before it is locked
FIRST_LOCK = timedelta(seconds=30)  # doubled with each further failure
LONGEST_LOCK = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=10)  # how stale `seen` may get before a request writes it again
LONGEST_SIGN_IN = timedelta(hours=12)  # a shift: after that, even an open live view asks again
FORGET_AFTER = timedelta(days=1)  # attempts at a name, neither locked nor recent, are forgotten
UNKNOWN_NAME = "(unknown name)"  # who a failed sign-in at a name no user has is audited as


class SignInRefused(Exception):
    """The sign-in failed; `str()` is what the person signing in is told."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool = False

    @property
    def permissions(self) -> frozenset[Permission]:
        return frozenset() if self.disabled else permissions(self.role)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class SignIn:
    token: str  # goes in the browser's session cookie; only its hash is stored
    user: User


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(f"invalid user name {name[:80]!r}: 1 to 64 letters, digits, '.', '_', '@' or '-', "
                           "starting with a letter or digit")
    return name


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r} (one of {', '.join(Role)})") from None


def lock_for(failures: int) -> timedelta | None:
    """How long a name is locked after this many attempts since its last success: none below MAX_FAILURES,
    then FIRST_LOCK, doubled with each further attempt up to LONGEST_LOCK."""
    if failures < MAX_FAILURES:
        return None
    return min(FIRST_LOCK * 2 ** (failures - MAX_FAILURES), LONGEST_LOCK)


def _user(stored: StoredUser) -> User:
    return User(stored.id, stored.name, stored.role, stored.disabled)


class Accounts:
    """Who may sign in, and for how long: the policy over `store.users`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.users = store.users

    # -- user administration (vigil user, the admin role) --

    def add(self, name: str, role: str, password: str, by: str, now: datetime | None = None) -> User:
        check_name(name)
        check_role(role)
        pw_hash = hash_password(password)
        return User(self.users.add(name, role, pw_hash, by, now or datetime.now(UTC)), name, role)

    def set_password(self, name: str, password: str, by: str, now: datetime | None = None) -> None:
        """A new password (a forgotten one, a suspected leak, a locked name): ends the sign-ins, lifts the lock."""
        self.users.set_password(name, hash_password(password), by, now or datetime.now(UTC))

    def enable(self, name: str, by: str, now: datetime | None = None) -> None:
        """A disabled account may sign in again (with its old password, or after `set_password`)."""
        self.users.enable(name, by, now or datetime.now(UTC))

    def exists(self, name: str) -> bool:
        return self.users.exists(name)

    def disable(self, name: str, by: str, now: datetime | None = None) -> None:
        """The account can no longer sign in, and its open sign-ins end now (their live streams too)."""
        self.users.disable(name, by, now or datetime.now(UTC))

    def listing(self, now: datetime | None = None) -> list[UserListing]:
        return self.users.listing(now or datetime.now(UTC))

    def can_sign_in(self) -> bool:
        """Whether any enabled user exists: a server that needs sign-in is useless without one."""
        return self.users.any_enabled()

    # -- signing in and out --

    def sign_in(self, name: str, password: str, now: datetime | None = None) -> SignIn:
        """A new sign-in, or `SignInRefused` with the same message for every kind of failure.

        Each attempt is counted before its password is checked, in one write transaction, so parallel guesses
        cannot all slip past the lockout. A name with MAX_FAILURES attempts since its last success is locked for
        FIRST_LOCK, doubled with each further attempt up to LONGEST_LOCK, whether or not that user exists;
        while locked, no password is checked. Failed attempts at unknown names are audited without the name.
        """
        now = now or datetime.now(UTC)
        typed = name[:200]
        user = self.users.find(typed)
        who = UNKNOWN_NAME if user is None else user.name
        wait, lock = self.users.count_attempt(typed, now, lock_for, FORGET_AFTER)
        if wait is not None:
            self.store.audit.write(who, "sign_in_failed", "dashboard", "", "locked", at=now)
            raise SignInRefused(f"Too many failed sign-ins for this name: try again in {wait} s.")
        matches = verify(None if user is None else user.pw_hash, password)
        if not matches or user is None or user.disabled:
            why = "unknown name" if user is None else "disabled" if matches else "wrong password"
            locked = "" if lock is None else f"; locked for {int(lock.total_seconds())} s"
            self.store.audit.write(who, "sign_in_failed", "dashboard", "", why + locked, at=now)
            raise SignInRefused(REFUSED)
        token = secrets.token_urlsafe(32)
        self.users.start_login(token, user, now)
        return SignIn(token, _user(user))

    def resume(self, token: str, idle: timedelta | None, now: datetime | None = None, *,
               touch: bool = True) -> User | None:
        """The user a request's token belongs to, or None if that sign-in has ended.

        A sign-in ends when signed out, when its user is disabled or gets a new password, after `idle` without
        an action, and LONGEST_SIGN_IN after it began. `touch` False (a live stream connecting) does not count
        as an action.
        """
        now = now or datetime.now(UTC)
        login = self.users.login(token)
        if login is None or login.user.disabled or login.ended is not None:
            return None
        expired = "expired" if now - login.started > LONGEST_SIGN_IN else None
        why = expired or ("idle" if idle is not None and now - login.seen > idle else None)
        if why is not None:
            self.users.end_login(login, now, why)
            return None
        if touch and now - login.seen > TOUCH_EVERY:
            self.users.touch(login, now)
        return _user(login.user)

    def watching(self, token: str, now: datetime | None = None) -> bool:
        """Whether a live stream opened by this sign-in may go on: watching is not acting, so an idle timeout
        does not stop it (a ward screen must not go dark), but a sign-out, a disabled account, a new password
        or LONGEST_SIGN_IN do."""
        now = now or datetime.now(UTC)
        login = self.users.login(token)
        return (login is not None and not login.user.disabled and (login.ended is None or login.ended_why == "idle")
                and now - login.started <= LONGEST_SIGN_IN)  # the row form of store.users.WATCHING

    def sign_out(self, token: str, now: datetime | None = None) -> None:
        self.users.sign_out(token, now or datetime.now(UTC))
