"""Users, sign-ins, failed sign-in attempts and server settings: the SQL behind `monitor.auth.accounts`.

The policy (who may sign in, for how long, how a name is locked) is in `monitor.auth.accounts`; this keeps
the rows, each change in one transaction with its audit entry. Sign-in tokens and the names typed at failed
sign-ins are stored only as hashes (`hashed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.store.audit import write_audit
from monitor.store.database import Database, inserted_id
from monitor.store.schema import login_failures, logins, settings, users
from monitor.timeutil import from_us, to_us

# A sign-in not ended, or ended only by the idle timeout: its open live view still runs, so sign-out ends that too.
WATCHING = sa.or_(logins.c.ended_us.is_(None), logins.c.ended_why == "idle")


class AccountError(ValueError):
    """A user change that cannot be made; nothing was changed."""


@dataclass(frozen=True)
class StoredUser:
    id: int
    name: str
    role: str
    pw_hash: str
    disabled: bool


@dataclass(frozen=True)
class StoredLogin:
    """One sign-in and the user it belongs to."""

    id: int
    user: StoredUser
    started: datetime
    seen: datetime  # last request other than the live stream
    ended: datetime | None
    ended_why: str | None


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


def hashed(text: str) -> str:
    """What is stored of a sign-in token or of a name typed at a sign-in."""
    return hashlib.sha256(text.encode()).hexdigest()


def _user(row: sa.Row) -> StoredUser:
    return StoredUser(row.id, row.name, row.role, row.pw_hash, bool(row.disabled))


def _by_name(conn: Connection, name: str) -> StoredUser:
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    if row is None:
        raise AccountError(f"no user named {name[:80]}")
    return _user(row)


def _end_logins(conn: Connection, user_id: int, now: datetime, why: str) -> None:
    conn.execute(logins.update().where(logins.c.user_id == user_id, WATCHING).values(ended_us=to_us(now),
                                                                                     ended_why=why))


class Users:
    """The tables `users`, `logins`, `login_failures` and `settings`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- user administration --

    def add(self, name: str, role: str, pw_hash: str, by: str, now: datetime) -> int:
        """A new user's id; AccountError if the name is taken."""
        try:
            with self.db.engine.begin() as conn:
                result = conn.execute(users.insert().values(name=name, role=role, pw_hash=pw_hash,
                                                            created_us=to_us(now), created_by=by))
                write_audit(conn, None, by, "user_add", name, "", role, now, None)
        except sa.exc.IntegrityError:
            raise AccountError(f"a user named {name} already exists") from None
        return inserted_id(result)

    def set_password(self, name: str, pw_hash: str, by: str, now: datetime) -> None:
        """A new password hash; ends the user's sign-ins and lifts any lock on the name (an administrator resetting
        a locked-out user's password lets them in with the new one at once)."""
        with self.db.engine.begin() as conn:
            user = _by_name(conn, name)
            conn.execute(users.update().where(users.c.id == user.id).values(pw_hash=pw_hash))
            conn.execute(login_failures.delete().where(login_failures.c.name == hashed(name)))
            _end_logins(conn, user.id, now, "password")
            write_audit(conn, None, by, "user_password", name, "", "changed", now, None)

    def enable(self, name: str, by: str, now: datetime) -> None:
        with self.db.engine.begin() as conn:
            user = _by_name(conn, name)
            if not user.disabled:
                raise AccountError(f"{name} is not disabled")
            conn.execute(users.update().where(users.c.id == user.id).values(disabled=False))
            write_audit(conn, None, by, "user_enable", name, "disabled", "enabled", now, None)

    def disable(self, name: str, by: str, now: datetime) -> None:
        """The account is disabled and its open sign-ins end now."""
        with self.db.engine.begin() as conn:
            user = _by_name(conn, name)
            if user.disabled:
                raise AccountError(f"{name} is already disabled")
            conn.execute(users.update().where(users.c.id == user.id).values(disabled=True))
            _end_logins(conn, user.id, now, "disabled")
            write_audit(conn, None, by, "user_disable", name, "enabled", "disabled", now, None)

    def exists(self, name: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(sa.select(users.c.id).where(users.c.name == name)).first() is not None

    def find(self, name: str) -> StoredUser | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        return None if row is None else _user(row)

    def listing(self, now: datetime) -> list[UserListing]:
        """Every user by name, with their last sign-in and any lock on their name at `now`."""
        now_us = to_us(now)
        last = (sa.select(logins.c.user_id, sa.func.max(logins.c.started_us).label("last_us"))
                .group_by(logins.c.user_id).subquery())
        q = (sa.select(users, last.c.last_us).outerjoin(last, last.c.user_id == users.c.id).order_by(users.c.name))
        with self.db.read() as conn:
            rows = conn.execute(q).all()
            locks = dict(conn.execute(sa.select(login_failures.c.name, login_failures.c.locked_until_us)
                                      .where(login_failures.c.locked_until_us > now_us)).all())
        return [
            UserListing(row.name, row.role, bool(row.disabled), from_us(row.created_us), row.created_by,
                        None if row.last_us is None else from_us(row.last_us),
                        from_us(locks[key]) if (key := hashed(row.name)) in locks else None)
            for row in rows
        ]

    def any_enabled(self) -> bool:
        with self.db.read() as conn:
            return conn.execute(sa.select(users.c.id).where(users.c.disabled.is_(False)).limit(1)).first() is not None

    # -- sign-ins --

    def count_attempt(self, name: str, now: datetime, lock_for: Callable[[int], timedelta | None],
                      forget_after: timedelta) -> tuple[int | None, timedelta | None]:
        """Count one sign-in attempt at `name` (stored hashed): (seconds to wait, None) if the name is locked (not
        counted), else (None, `lock_for(attempts so far)`, which locks the name from now if not None). Forgets
        names neither locked nor tried for `forget_after`. The write comes first: it takes the lock other
        attempts wait on, so parallel guesses are counted one by one."""
        now_us = to_us(now)
        key = hashed(name)
        f = login_failures
        with self.db.engine.begin() as conn:
            self.db.upsert(conn, f, [{"name": key, "failures": 1, "locked_until_us": None, "last_us": now_us}],
                           keys=["name"], update={
                               "failures": sa.case((f.c.locked_until_us > now_us, f.c.failures),
                                                   else_=f.c.failures + 1),
                               "last_us": now_us})
            row = conn.execute(sa.select(f).where(f.c.name == key)).one()
            if (row.locked_until_us or 0) > now_us:
                return -(-(row.locked_until_us - now_us) // 1_000_000), None
            lock = lock_for(row.failures)
            if lock is not None:
                conn.execute(f.update().where(f.c.name == key).values(locked_until_us=to_us(now + lock)))
            conn.execute(f.delete().where(f.c.last_us < to_us(now - forget_after),
                                          sa.or_(f.c.locked_until_us.is_(None), f.c.locked_until_us < now_us)))
        return None, lock

    def start_login(self, token: str, user: StoredUser, now: datetime) -> None:
        """A new sign-in for `user` under `token` (stored hashed); forgets the failed attempts at their name."""
        with self.db.engine.begin() as conn:
            conn.execute(logins.insert().values(token_hash=hashed(token), user_id=user.id, started_us=to_us(now),
                                                seen_us=to_us(now)))
            conn.execute(login_failures.delete().where(login_failures.c.name == hashed(user.name)))
            write_audit(conn, None, user.name, "sign_in", "dashboard", "", user.role, now, None)

    def login(self, token: str) -> StoredLogin | None:
        """The sign-in under `token`, ended or not."""
        q = (sa.select(logins.c.id.label("login_id"), logins.c.started_us, logins.c.seen_us, logins.c.ended_us,
                       logins.c.ended_why, users)
             .join(users, users.c.id == logins.c.user_id).where(logins.c.token_hash == hashed(token)))
        with self.db.read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        return StoredLogin(row.login_id, _user(row), from_us(row.started_us), from_us(row.seen_us),
                           None if row.ended_us is None else from_us(row.ended_us), row.ended_why)

    def end_login(self, login: StoredLogin, now: datetime, why: str) -> None:
        """End a sign-in still open (audited as a sign-out for `why`); one that has ended meanwhile stays as is."""
        with self.db.engine.begin() as conn:
            ended = conn.execute(logins.update().where(logins.c.id == login.id, logins.c.ended_us.is_(None))
                                 .values(ended_us=to_us(now), ended_why=why))
            if ended.rowcount:
                write_audit(conn, None, login.user.name, "sign_out", "dashboard", "", why, now, None)

    def touch(self, login: StoredLogin, now: datetime) -> None:
        """The sign-in was used at `now` (its idle time starts again)."""
        with self.db.engine.begin() as conn:
            conn.execute(logins.update().where(logins.c.id == login.id).values(seen_us=to_us(now)))

    def sign_out(self, token: str, now: datetime) -> None:
        """End the sign-in under `token` and the live views it opened, if it has not ended already."""
        q = (sa.select(logins.c.id, users.c.name).join(users, users.c.id == logins.c.user_id)
             .where(logins.c.token_hash == hashed(token), WATCHING))
        with self.db.engine.begin() as conn:
            row = conn.execute(q).first()
            if row is None:
                return
            conn.execute(logins.update().where(logins.c.id == row.id).values(ended_us=to_us(now), ended_why="sign-out"))
            write_audit(conn, None, row.name, "sign_out", "dashboard", "", "signed out", now, None)

    # -- settings --

    def setting(self, key: str, default: Callable[[], str]) -> str:
        """The stored value of a server setting, stored first as `default()` if there is none; every process
        serving this database gets the same value, even when two make it at once."""
        with self.db.engine.begin() as conn:
            existing = conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar()
            if existing is not None:
                return existing
            try:
                with conn.begin_nested():
                    conn.execute(settings.insert().values(key=key, value=default()))
            except sa.exc.IntegrityError:  # another process created it first
                pass
            return conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar_one()
