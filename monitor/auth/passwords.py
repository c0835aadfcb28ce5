"""Password hashing with argon2id (argon2-cffi). Only hashes are stored; checking an unknown name costs the
same as checking a wrong password, so the time taken does not tell whether a name exists."""

from __future__ import annotations

import threading
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 1024  # hashing is deliberately slow: a megabyte "password" must not become a denial of service

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" parameters (64 MiB each)
# At most two checks at once: a flood of sign-in attempts queues here instead of taking 64 MiB per request.
_checking = threading.BoundedSemaphore(2)


class PasswordError(ValueError):
    """A password that cannot be used; the message says why."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password has at most {MAX_LENGTH} characters")
    if password != password.strip():
        raise PasswordError("a password cannot start or end with a space")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


@cache
def _stand_in_hash() -> str:
    """A hash of nothing anyone knows, checked when the name is unknown."""
    return _hasher.hash("stand-in for an unknown name")


def verify(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches; `stored_hash` None (no such user) does the same work and returns False."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]  # still verified, so a long guess takes no less time
    try:
        with _checking:
            ok = _hasher.verify(stored_hash or _stand_in_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and stored_hash is not None
