"""Users, sign-ins and lockout, kept in the store (tables `users`, `logins`, `login_failures`).

Sans-web: the Flask guard (`monitor.web.auth`) and `vigil user` both call this. Every change to a user and
every sign-in, sign-out and failed sign-in is appended to the audit trail. A refused sign-in always gives
the same message, whether the name is unknown, the password wrong or the account disabled, and costs the same.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.auth.passwords import hash_password, verify
from monitor.auth.roles import Permission, Role, permissions
from monitor.store import Store, write_audit
from monitor.store.schema import login_failures, logins, users
from monitor.timeutil import from_us, to_us

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
REFUSED = "Wrong name or password."
MAX_FAILURES = 5  # consecutive failures for one name before it is locked
FIRST_LOCK = timedelta(seconds=30)  # doubled with each further failure
LONGEST_LOCK = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=10)  # how stale `seen` may get before a request writes it again
LONGEST_SIGN_IN = timedelta(hours=12)  # a shift: after that, even an open live view asks again
FORGET_AFTER = timedelta(days=1)  # attempts at a name, neither locked nor recent, are forgotten
UNKNOWN_NAME = "(unknown name)"  # who a failed sign-in at a name no user has is audited as
# A sign-in not ended, or ended only by the idle timeout: its open live view still runs, so sign-out ends that too.
WATCHING = sa.or_(logins.c.ended_us.is_(None), logins.c.ended_why == "idle")


class AccountError(ValueError):
    """A user change that cannot be made; nothing was changed."""


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
class UserListing:
    name: str
    role: str
    disabled: bool
    created: datetime
    created_by: str
    last_sign_in: datetime | None
    locked_until: datetime | None

    def status(self, when: Callable[[datetime], str]) -> str:
        """"active", "disabled" or "locked until …", the time as `when` writes it (CLI and users page alike)."""
        if self.disabled:
            return "disabled"
        return f"locked until {when(self.locked_until)}" if self.locked_until else "active"


@dataclass(frozen=True)
class SignIn:
    token: str  # goes in the browser's session cookie; only its hash is stored
    user: User


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


def _user(row: sa.Row) -> User:
    return User(row.id, row.name, row.role, bool(row.disabled))


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # -- user administration (vigil user, the admin role) --

    def add(self, name: str, role: str, password: str, by: str, now: datetime | None = None) -> User:
        check_name(name)
        check_role(role)
        pw_hash = hash_password(password)
        now = now or datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                result = conn.execute(users.insert().values(name=name, role=role, pw_hash=pw_hash,
                                                            created_us=to_us(now), created_by=by))
                write_audit(conn, None, by, "user_add", name, "", role, now, None)
        except sa.exc.IntegrityError:
            raise AccountError(f"a user named {name} already exists") from None
        return User(int(result.inserted_primary_key[0]), name, role)

    def set_password(self, name: str, password: str, by: str, now: datetime | None = None) -> None:
        """A new password (a forgotten one, or a suspected leak): ends the user's sign-ins."""
        pw_hash = hash_password(password)
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            user = self._by_name(conn, name)
            conn.execute(users.update().where(users.c.id == user.id).values(pw_hash=pw_hash))
            conn.execute(login_failures.delete().where(login_failures.c.name == name))
            self._end_logins(conn, user.id, now, "password")
            write_audit(conn, None, by, "user_password", name, "", "changed", now, None)

    def enable(self, name: str, by: str, now: datetime | None = None) -> None:
        """A disabled account may sign in again (with its old password, or after `set_password`)."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            user = self._by_name(conn, name)
            if not user.disabled:
                raise AccountError(f"{name} is not disabled")
            conn.execute(users.update().where(users.c.id == user.id).values(disabled=False))
            write_audit(conn, None, by, "user_enable", name, "disabled", "enabled", now, None)

    def exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.id).where(users.c.name == name)).first() is not None

    def disable(self, name: str, by: str, now: datetime | None = None) -> None:
        """The account can no longer sign in, and its open sign-ins end now (their live streams too)."""
        now = now or datetime.now(UTC)
        with self.engine.begin() as conn:
            user = self._by_name(conn, name)
            if user.disabled:
                raise AccountError(f"{name} is already disabled")
            conn.execute(users.update().where(users.c.id == user.id).values(disabled=True))
            self._end_logins(conn, user.id, now, "disabled")
            write_audit(conn, None, by, "user_disable", name, "enabled", "disabled", now, None)

    def listing(self, now: datetime | None = None) -> list[UserListing]:
        now_us = to_us(now or datetime.now(UTC))
        last = (sa.select(logins.c.user_id, sa.func.max(logins.c.started_us).label("last_us"))
                .group_by(logins.c.user_id).subquery())
        q = (sa.select(users, last.c.last_us).outerjoin(last, last.c.user_id == users.c.id).order_by(users.c.name))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            locks = dict(conn.execute(sa.select(login_failures.c.name, login_failures.c.locked_until_us)
                                      .where(login_failures.c.locked_until_us > now_us)).all())
        return [
            UserListing(row.name, row.role, bool(row.disabled), from_us(row.created_us), row.created_by,
                        None if row.last_us is None else from_us(row.last_us),
                        from_us(locks[key]) if (key := token_hash(row.name)) in locks else None)
            for row in rows
        ]

    def can_sign_in(self) -> bool:
        """Whether any enabled user exists: a server that needs sign-in is useless without one."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.id).where(users.c.disabled.is_(False)).limit(1)).first() is not None

    @staticmethod
    def _by_name(conn: sa.Connection, name: str) -> User:
        row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        if row is None:
            raise AccountError(f"no user named {name[:80]}")
        return _user(row)

    @staticmethod
    def _end_logins(conn: sa.Connection, user_id: int, now: datetime, why: str) -> None:
        conn.execute(logins.update().where(logins.c.user_id == user_id, WATCHING).values(ended_us=to_us(now),
                                                                                         ended_why=why))

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
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == typed)).first()
        who = UNKNOWN_NAME if row is None else row.name
        key = token_hash(typed)
        wait, lock = self._count_attempt(key, now)
        if wait is not None:
            self.store.audit(who, "sign_in_failed", "dashboard", "", "locked", at=now)
            raise SignInRefused(f"Too many failed sign-ins for this name: try again in {wait} s.")
        matches = verify(None if row is None else row.pw_hash, password)
        if not matches or row is None or row.disabled:
            why = "unknown name" if row is None else "disabled" if matches else "wrong password"
            locked = "" if lock is None else f"; locked for {int(lock.total_seconds())} s"
            self.store.audit(who, "sign_in_failed", "dashboard", "", why + locked, at=now)
            raise SignInRefused(REFUSED)
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(logins.insert().values(token_hash=token_hash(token), user_id=row.id, started_us=to_us(now),
                                                seen_us=to_us(now)))
            conn.execute(login_failures.delete().where(login_failures.c.name == key))
            write_audit(conn, None, row.name, "sign_in", "dashboard", "", row.role, now, None)
        return SignIn(token, _user(row))

    def _count_attempt(self, key: str, now: datetime) -> tuple[int | None, timedelta | None]:
        """Count one attempt at the name hashed as `key`: (seconds to wait, None) if it is locked (not counted),
        else (None, the lock this attempt starts, if it is one too many). Forgets names idle for a day."""
        now_us = to_us(now)
        f = login_failures
        insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[self.engine.dialect.name]
        stmt = insert(f).values(name=key, failures=1, locked_until_us=None, last_us=now_us)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={
            "failures": sa.case((f.c.locked_until_us > now_us, f.c.failures), else_=f.c.failures + 1),
            "last_us": now_us})
        with self.engine.begin() as conn:  # the write comes first: it takes the lock other attempts wait on
            conn.execute(stmt)
            row = conn.execute(sa.select(f).where(f.c.name == key)).one()
            if (row.locked_until_us or 0) > now_us:
                return -(-(row.locked_until_us - now_us) // 1_000_000), None
            lock = None
            if row.failures >= MAX_FAILURES:
                lock = min(FIRST_LOCK * 2 ** (row.failures - MAX_FAILURES), LONGEST_LOCK)
                conn.execute(f.update().where(f.c.name == key).values(locked_until_us=to_us(now + lock)))
            conn.execute(f.delete().where(f.c.last_us < to_us(now - FORGET_AFTER),
                                          sa.or_(f.c.locked_until_us.is_(None), f.c.locked_until_us < now_us)))
        return None, lock

    def resume(self, token: str, idle: timedelta | None, now: datetime | None = None, *,
               touch: bool = True) -> User | None:
        """The user a request's token belongs to, or None if that sign-in has ended.

        A sign-in ends when signed out, when its user is disabled or gets a new password, after `idle` without
        an action, and LONGEST_SIGN_IN after it began. `touch` False (a live stream connecting) does not count
        as an action.
        """
        now = now or datetime.now(UTC)
        row = self._login(token)
        if row is None or row.disabled or row.ended_us is not None:
            return None
        seen = from_us(row.seen_us)
        expired = "expired" if now - from_us(row.started_us) > LONGEST_SIGN_IN else None
        why = expired or ("idle" if idle is not None and now - seen > idle else None)
        if why is not None:
            with self.engine.begin() as conn:
                ended = conn.execute(logins.update().where(logins.c.id == row.login_id, logins.c.ended_us.is_(None))
                                     .values(ended_us=to_us(now), ended_why=why))
                if ended.rowcount:
                    write_audit(conn, None, row.name, "sign_out", "dashboard", "", why, now, None)
            return None
        if touch and now - seen > TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(logins.update().where(logins.c.id == row.login_id).values(seen_us=to_us(now)))
        return User(row.id, row.name, row.role)

    def watching(self, token: str, now: datetime | None = None) -> bool:
        """Whether a live stream opened by this sign-in may go on: watching is not acting, so an idle timeout
        does not stop it (a ward screen must not go dark), but a sign-out, a disabled account, a new password
        or LONGEST_SIGN_IN do."""
        now = now or datetime.now(UTC)
        row = self._login(token)
        return (row is not None and not row.disabled and (row.ended_us is None or row.ended_why == "idle")
                and now - from_us(row.started_us) <= LONGEST_SIGN_IN)  # the row form of WATCHING

    def _login(self, token: str) -> sa.Row | None:
        q = (sa.select(logins.c.id.label("login_id"), logins.c.started_us, logins.c.seen_us, logins.c.ended_us,
                       logins.c.ended_why, users)
             .join(users, users.c.id == logins.c.user_id).where(logins.c.token_hash == token_hash(token)))
        with self.engine.connect() as conn:
            return conn.execute(q).first()

    def sign_out(self, token: str, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        q = (sa.select(logins.c.id, users.c.name).join(users, users.c.id == logins.c.user_id)
             .where(logins.c.token_hash == token_hash(token), WATCHING))
        with self.engine.begin() as conn:
            row = conn.execute(q).first()
            if row is None:
                return
            conn.execute(logins.update().where(logins.c.id == row.id).values(ended_us=to_us(now), ended_why="sign-out"))
            write_audit(conn, None, row.name, "sign_out", "dashboard", "", "signed out", now, None)
