"""Users, sign-ins, lockout and the audit trail's append-only guarantee, on a real SQLite file."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.auth.accounts import REFUSED, AccountError, Accounts, SignInRefused
from monitor.auth.passwords import PasswordError, verify
from monitor.auth.roles import Permission, permissions
from monitor.store import Store
from monitor.web.auth import secret_key

NOW = datetime(2026, 11, 21, 9, tzinfo=UTC)
PASSWORD = "correct horse battery"
IDLE = timedelta(minutes=15)


@pytest.fixture
def accounts(store: Store) -> Accounts:
    accounts = Accounts(store)
    accounts.add("nurse-ana", "nurse", PASSWORD, by="admin", now=NOW)
    return accounts


def refusal(accounts: Accounts, name: str, password: str, now: datetime) -> str:
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(name, password, now)
    return str(refused.value)


def test_roles_grant_what_the_ward_expects() -> None:
    assert Permission.LIMITS in permissions("clinician") and Permission.LIMITS not in permissions("nurse")
    assert Permission.ACKNOWLEDGE in permissions("nurse") and Permission.ACKNOWLEDGE not in permissions("tester")
    assert Permission.REPLAY in permissions("tester") and Permission.REPLAY not in permissions("clinician")
    assert Permission.USERS in permissions("admin") and Permission.USERS not in permissions("clinician")
    assert Permission.OVERRIDE in permissions("clinician") and Permission.OVERRIDE not in permissions("nurse")
    assert permissions("superuser") == frozenset()


def test_only_a_salted_argon2id_hash_is_stored(accounts: Accounts, store: Store) -> None:
    accounts.add("dr-ben", "clinician", PASSWORD, by="admin", now=NOW)
    with store.engine.connect() as conn:
        hashes = [row.pw_hash for row in conn.execute(sa.text("SELECT pw_hash FROM users"))]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    assert len(set(hashes)) == 2
    assert verify(hashes[0], PASSWORD) and not verify(hashes[0], PASSWORD + " ")


def test_user_changes_are_checked_and_audited(accounts: Accounts, store: Store) -> None:
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("nurse-ana", "clinician", PASSWORD, by="admin")
    with pytest.raises(AccountError, match="unknown role"):
        accounts.add("x", "superuser", PASSWORD, by="admin")
    with pytest.raises(AccountError, match="invalid user name"):
        accounts.add("ana smith", "nurse", PASSWORD, by="admin")
    with pytest.raises(PasswordError, match="at least 8"):
        accounts.add("short", "nurse", "1234567", by="admin")
    assert [u.name for u in accounts.listing()] == ["nurse-ana"]
    accounts.set_password("nurse-ana", "a new passphrase", by="admin", now=NOW)
    refusal(accounts, "nurse-ana", PASSWORD, NOW)
    assert accounts.sign_in("nurse-ana", "a new passphrase", NOW).user.role == "nurse"
    assert [(e.who, e.action, e.target) for e in store.audit.entries() if e.action.startswith("user")] == [
        ("admin", "user_add", "nurse-ana"), ("admin", "user_password", "nurse-ana")]


def test_wrong_password_unknown_name_and_disabled_account_get_the_same_answer(accounts: Accounts,
                                                                              store: Store) -> None:
    accounts.add("gone", "nurse", PASSWORD, by="admin")
    accounts.disable("gone", by="admin")
    answers = {refusal(accounts, "nurse-ana", "wrong password!", NOW), refusal(accounts, "nobody", PASSWORD, NOW),
               refusal(accounts, "gone", PASSWORD, NOW)}
    assert answers == {REFUSED}
    reasons = [(e.who, e.new) for e in store.audit.entries() if e.action == "sign_in_failed"]
    assert reasons == [("nurse-ana", "wrong password"), ("(unknown name)", "unknown name"), ("gone", "disabled")]
    assert "nobody" not in str(store.audit.entries())  # what strangers type is not kept


def test_wrong_password_and_unknown_name_take_similar_time(accounts: Accounts) -> None:
    """Both check one argon2 hash; the median of interleaved tries must not tell them apart (a ratio of the
    process's CPU time, which other processes loading the machine do not change; not a wall-clock limit)."""
    wrong, unknown = [], []
    for i in range(7):
        for name, times in (("nurse-ana", wrong), (f"nobody-{i}", unknown)):
            start = time.process_time()
            with pytest.raises(SignInRefused):
                accounts.sign_in(name, f"guess {i}", NOW + timedelta(hours=i))  # hours apart: never locked
            times.append(time.process_time() - start)
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.6 < ratio < 1.6, (statistics.median(wrong), statistics.median(unknown))


@pytest.mark.parametrize("name", ["nurse-ana", "nobody"])
def test_lockout_after_five_failures_with_backoff_for_any_name(accounts: Accounts, name: str) -> None:
    for i in range(4):
        assert refusal(accounts, name, "bad guess", NOW + timedelta(seconds=i)) == REFUSED
    assert refusal(accounts, name, "bad guess", NOW + timedelta(seconds=4)) == REFUSED  # the 5th locks for 30 s
    locked = refusal(accounts, name, PASSWORD, NOW + timedelta(seconds=10))  # even the right password
    assert locked == "Too many failed sign-ins for this name: try again in 24 s."
    after = NOW + timedelta(seconds=35)
    assert refusal(accounts, name, "bad guess", after) == REFUSED  # a 6th failure locks for 60 s
    assert "try again in 60 s" in refusal(accounts, name, PASSWORD, after)
    if name == "nurse-ana":
        (listed,) = accounts.listing(after)
        assert listed.locked_until == after + timedelta(seconds=60)  # what `vigil user list` shows
        assert accounts.sign_in(name, PASSWORD, after + timedelta(seconds=61)).user.name == name
        for i in range(4):  # a success resets the count
            refusal(accounts, name, "bad guess", after + timedelta(seconds=62 + i))
        assert accounts.sign_in(name, PASSWORD, after + timedelta(seconds=70)).user.name == name


def test_a_new_password_lifts_the_lock_on_the_name(accounts: Accounts) -> None:
    for i in range(5):
        refusal(accounts, "nurse-ana", "bad guess", NOW + timedelta(seconds=i))
    assert "Too many failed" in refusal(accounts, "nurse-ana", PASSWORD, NOW + timedelta(seconds=5))
    accounts.set_password("nurse-ana", "a new passphrase", by="admin", now=NOW + timedelta(seconds=6))
    (listed,) = accounts.listing(NOW + timedelta(seconds=6))
    assert listed.locked_until is None
    assert accounts.sign_in("nurse-ana", "a new passphrase", NOW + timedelta(seconds=7)).user.name == "nurse-ana"


def test_parallel_guesses_cannot_outrun_the_lockout(accounts: Accounts, store: Store) -> None:
    """Each attempt is counted before its password is checked: of 16 guesses at once, 5 are checked."""
    def guess(i: int) -> str:
        try:
            accounts.sign_in("nurse-ana", f"guess {i}", NOW)
        except SignInRefused as exc:
            return str(exc)
        return "signed in"

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(guess, range(16)))
    assert answers.count(REFUSED) == 5 and all(a.startswith("Too many failed") for a in answers if a != REFUSED)
    checked = [e.new for e in store.audit.entries() if e.action == "sign_in_failed"]
    assert sorted(c.split(";")[0] for c in checked) == ["locked"] * 11 + ["wrong password"] * 5


def test_idle_timeout_ends_acting_but_not_watching(accounts: Accounts, store: Store) -> None:
    token = accounts.sign_in("nurse-ana", PASSWORD, NOW).token
    assert accounts.resume(token, IDLE, NOW + timedelta(minutes=14)) is not None  # activity: seen again
    assert accounts.resume(token, IDLE, NOW + timedelta(minutes=28)) is not None
    late = NOW + timedelta(minutes=28, seconds=1) + IDLE
    assert accounts.resume(token, IDLE, late, touch=False) is None  # no new live view from an idle sign-in ...
    assert accounts.watching(token, late)  # ... but the open one goes on
    assert accounts.resume(token, IDLE, late) is None  # the next action needs a new sign-in
    assert accounts.watching(token, late + timedelta(hours=1))
    assert not accounts.watching(token, NOW + timedelta(hours=12, seconds=1))  # a shift at most
    accounts.sign_out(token, late)  # signing out still ends the open live view
    assert not accounts.watching(token, late)
    assert [e.new for e in store.audit.entries() if e.action == "sign_out"] == ["idle", "signed out"]


def test_a_sign_in_lasts_a_shift_at_most(accounts: Accounts) -> None:
    token = accounts.sign_in("nurse-ana", PASSWORD, NOW).token
    for minutes in range(10, 12 * 60, 10):  # active all along
        assert accounts.resume(token, IDLE, NOW + timedelta(minutes=minutes)) is not None
    assert accounts.resume(token, IDLE, NOW + timedelta(hours=12, minutes=1)) is None


@pytest.mark.parametrize("end", ["sign-out", "disable", "password"])
def test_signing_out_disabling_or_a_new_password_end_even_the_live_view(accounts: Accounts, end: str) -> None:
    token = accounts.sign_in("nurse-ana", PASSWORD, NOW).token
    if end == "sign-out":
        accounts.sign_out(token, NOW)
    elif end == "disable":
        accounts.disable("nurse-ana", by="admin", now=NOW)
    else:
        accounts.set_password("nurse-ana", "another passphrase", by="admin", now=NOW)
    assert accounts.resume(token, IDLE, NOW) is None
    assert not accounts.watching(token, NOW)
    assert not accounts.watching("a made-up token", NOW)


def test_the_secret_key_is_made_once_and_kept_with_the_data(db_path) -> None:
    first = secret_key(Store(db_path))
    assert len(first) == 64 and secret_key(Store(db_path)) == first


def test_the_audit_trail_is_append_only_in_the_database(accounts: Accounts, store: Store) -> None:
    count = len(store.audit.entries())
    for statement in ("UPDATE audit SET who = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert len(store.audit.entries()) == count and store.audit.entries()[0].who == "admin"
