"""One holder per bed (`store.holders`, `runtime.lease`), on both engines: a live holder keeps its bed, a stale or
released one gives it up, many takers at once leave exactly one holder, and a holder that lost its bed is told."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import uuid

import sqlalchemy as sa
from support import age_lease, wait_until

from monitor.runtime.lease import BedHeld, BedLeases
from monitor.store import Store
from monitor.store.holders import LEASE_TTL_S
from monitor.store.schema import bed_holders


def age(store: Store, bed_id: str, seconds: float) -> None:
    age_lease(store.engine, bed_id, seconds)


def token() -> str:
    return uuid.uuid4().hex


def test_a_live_holder_keeps_its_bed_and_a_stale_one_is_taken_over_after_the_lease(store: Store) -> None:
    first, second = token(), token()
    assert store.holders.take("chair-1", first, "chair-pc-1", 4242) is None
    assert store.holders.take("chair-1", first, "chair-pc-1", 4242) is None  # ours already: still ours
    held = store.holders.take("chair-1", second, "central", 77)
    assert held is not None and (held.host, held.pid, held.stale) == ("chair-pc-1", 4242, False)
    assert held.describe().startswith("chair-pc-1 pid 4242, since ")
    age(store, "chair-1", LEASE_TTL_S - 2)  # silent, but not for the whole lease
    assert store.holders.take("chair-1", second, "central", 77) is not None
    age(store, "chair-1", 3)  # now past it
    assert store.holders.current(["chair-1"])["chair-1"].stale
    assert store.holders.take("chair-1", second, "central", 77) is None
    now = store.holders.current(["chair-1", "chair-2"])
    assert list(now) == ["chair-1"] and (now["chair-1"].host, now["chair-1"].stale) == ("central", False)
    assert store.holders.renew(first) == set()  # the old holder learns it has lost the bed
    assert store.holders.renew(second) == {"chair-1"}


def test_a_released_bed_is_free_at_once_and_says_when(store: Store) -> None:
    first = token()
    store.holders.take("chair-1", first, "chair-pc-1", 1)
    store.holders.release(first, ["chair-1"])
    assert store.holders.current(["chair-1"])["chair-1"].released is not None
    assert store.holders.take("chair-1", token(), "chair-pc-2", 2) is None


def race(store: Store, tokens: list[str]) -> dict[str, object]:
    """Each token takes chair-1 on a thread of its own, all released at once: what each got."""
    start, results = threading.Barrier(len(tokens)), {}

    def take(t: str) -> None:
        start.wait()
        results[t] = store.holders.take("chair-1", t, "host", 1)

    threads = [threading.Thread(target=take, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_many_takers_at_once_leave_exactly_one_holder(store: Store) -> None:
    """Eight processes' worth of takers, on a free bed and then on a stale one: one wins each time."""
    for attempt in range(2):
        results = race(store, [token() for _ in range(8)])
        winners = [t for t, held in results.items() if held is None]
        assert len(winners) == 1, (attempt, results)
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(bed_holders.c.token)).scalars().all() == winners
        age(store, "chair-1", LEASE_TTL_S + 1)  # the winner dies: the next round takes over a stale lease


def test_a_holder_on_this_computer_whose_process_is_gone_is_taken_over_at_once(store: Store) -> None:
    here = socket.gethostname()
    ended = subprocess.Popen(["true"])
    ended.wait()  # reaped: its pid names no process now
    dead_pid = ended.pid
    store.holders.take("chair-1", token(), here, dead_pid)
    BedLeases(store, ["chair-1"]).take()
    assert store.holders.current(["chair-1"])["chair-1"].pid == os.getpid()
    # A live process on this computer keeps it, as one on another computer does.
    store.holders.take("chair-2", token(), here, os.getppid())
    store.holders.take("chair-3", token(), "chair-pc-3", dead_pid)
    for bed in ("chair-2", "chair-3"):
        try:
            BedLeases(store, ["chair-4", bed]).take()
        except BedHeld as exc:
            assert str(exc).startswith(f"bed {bed} is acquired by ")
        else:
            raise AssertionError(f"{bed} was taken from a live holder")
        assert store.holders.current(["chair-4"])["chair-4"].released is not None  # all or nothing


def test_a_holder_that_lost_its_bed_is_told_once(store: Store) -> None:
    lost: list[str] = []
    leases = BedLeases(store, ["chair-1", "chair-2"], on_lost=lost.append, every=0.05)
    leases.take()
    leases.start()
    try:
        age(store, "chair-1", LEASE_TTL_S + 1)
        assert store.holders.take("chair-1", token(), "chair-pc-9", 9) is None
        wait_until(lambda: lost == ["chair-1"], "the lost bed reported")
        assert leases.lost == {"chair-1"} and leases.taken_by["chair-1"].host == "chair-pc-9"  # said when it stops
    finally:
        leases.stop()
    holders = store.holders.current(["chair-1", "chair-2"])
    assert holders["chair-1"].host == "chair-pc-9" and holders["chair-1"].released is None  # not released by us
    assert holders["chair-2"].released is not None


def test_a_chair_that_could_not_reach_the_database_holds_its_bed_before_delivering_or_yields_it(store: Store) -> None:
    """`BedLeases.hold`, before a spool is delivered: a bed never taken (started with the database out of reach) is
    taken; one whose lease went stale meanwhile, nobody having taken it, is renewed as it was; one another live process
    took meanwhile is that process's: refused, naming it, and counted as lost."""
    offline = BedLeases(None, ["chair-1"])  # started out of reach: it holds nothing, and says nothing while it runs
    offline.stop()
    assert store.holders.current(["chair-1"]) == {}
    leases = BedLeases(None, ["chair-1"])
    leases.hold(store)  # the database reached for the first time
    taken = store.holders.current(["chair-1"])["chair-1"]
    assert (taken.token, taken.pid, leases.store) == (leases.token, os.getpid(), store)
    age(store, "chair-1", LEASE_TTL_S + 5)  # an outage longer than the lease, nobody taking the bed meanwhile
    leases.hold(store)
    renewed = store.holders.current(["chair-1"])["chair-1"]
    assert (renewed.token, renewed.since, renewed.stale) == (leases.token, taken.since, False)
    age(store, "chair-1", LEASE_TTL_S + 5)  # again, and this time another chair took the bed meanwhile
    assert store.holders.take("chair-1", token(), "chair-pc-9", 9) is None
    try:
        leases.hold(store)
    except BedHeld as exc:
        assert str(exc).startswith("bed chair-1 was taken by chair-pc-9 pid 9, since ")
        assert str(exc).endswith(" UTC while this process could not reach the database")
    else:
        raise AssertionError("a bed another live process holds was held again")
    assert leases.lost == {"chair-1"} and leases.taken_by["chair-1"].host == "chair-pc-9"
    leases.stop()
    assert store.holders.current(["chair-1"])["chair-1"].host == "chair-pc-9"  # not released by us


def test_the_central_view_says_why_a_chair_computer_is_offline(store: Store) -> None:
    """What a tile of `vigil serve --no-acquire` says of a bed's chair computer, as the holders stand."""
    from datetime import timedelta, timezone

    from monitor.web.site.remote import offline_reason

    zone = timezone(timedelta(hours=2))
    first = token()
    assert offline_reason(store.holders.current(["chair-1"]).get("chair-1"), zone) == \
        "no chair computer has acquired this bed"
    store.holders.take("chair-1", first, "chair-pi-1", 812)
    live = store.holders.current(["chair-1"])["chair-1"]
    assert offline_reason(live, zone) is None
    age(store, "chair-1", LEASE_TTL_S + 1)
    stale = store.holders.current(["chair-1"])["chair-1"]
    assert offline_reason(stale, zone, now=stale.heard) == \
        f"chair computer chair-pi-1 not heard from since {stale.heard.astimezone(zone):%H:%M:%S}"
    assert offline_reason(stale, zone, now=stale.heard + timedelta(days=1)) == \
        f"chair computer chair-pi-1 not heard from since {stale.heard.astimezone(zone):%Y-%m-%d %H:%M:%S}"
    store.holders.release(first, ["chair-1"])
    stopped = store.holders.current(["chair-1"])["chair-1"]
    assert offline_reason(stopped, zone, now=stopped.heard) == \
        f"chair computer chair-pi-1 stopped at {stopped.released.astimezone(zone):%H:%M:%S}"  # type: ignore[union-attr]
