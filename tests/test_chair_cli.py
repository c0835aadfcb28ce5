"""`vigil acquire --config site.toml --bed ID` as real processes, on both engines: one process acquires a bed at a
time — a second `acquire`, or a `serve` that would acquire it, is refused naming the holder — and a holder that
was SIGKILLed is taken over: at once on its own computer (its process is gone), after the lease from another."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import sqlalchemy as sa
from support import DrivenMonitor, Processes, age_lease, one_line_error, run_vigil, start_chair, stored, wait_until

from monitor.store import Store
from monitor.store.holders import LEASE_TTL_S
from monitor.store.schema import bed_holders

SITE = """\
db = "{db}"

[[beds]]
id = "chair-1"
port = "{port}"
protocol = "ge-s5"

[[beds]]
id = "chair-2"
port = "{port}-2"
protocol = "ge-s5"
"""


def test_a_bed_is_acquired_by_one_process_at_a_time(db: str, tmp_path: Path, processes: Processes) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE.format(db=db, port=tmp_path / "no-such-tty"))  # offline, retrying: it holds all the same
    pid = start_chair(processes, site)
    host = socket.gethostname()
    second = run_vigil("acquire", "--config", site, "--bed", "chair-1")
    assert second.returncode == 2
    assert second.stderr.startswith(f"vigil acquire: error: bed chair-1 is acquired by {host} pid {pid}, since ")
    assert second.stderr.endswith(f"UTC; stop that process, or wait until it has not been heard from for "
                                  f"{LEASE_TTL_S:g} s\n") and second.stderr.count("\n") == 1
    old_style = run_vigil("acquire", "--port", tmp_path / "no-such-tty", "--protocol", "ge-s5", "--bed", "chair-1",
                          "--db", db)  # the same bed without the site file: the same lease, refused before the port
    assert one_line_error(old_style, "acquire").startswith(f"vigil acquire: error: bed chair-1 is acquired by {host} "
                                                           f"pid {pid}, since ")
    monitor = run_vigil("monitor", "--port", tmp_path / "no-such-tty", "--protocol", "ge-s5", "--bed", "chair-1",
                        "--db", db, "--http-port", "0", "--no-auth")  # acquiring with a bed view of its own
    assert one_line_error(monitor, "monitor").startswith(f"vigil monitor: error: bed chair-1 is acquired by {host} "
                                                         f"pid {pid}, since ")
    serve = run_vigil("serve", "--config", site, "--http-port", "0", "--no-auth")  # would acquire every bed
    assert serve.returncode == 2 and f"bed chair-1 is acquired by {host} pid {pid}" in serve.stderr
    assert serve.stdout == ""  # nothing opened
    start_chair(processes, site, "chair-2")  # another bed of the site: another chair computer


def test_a_killed_holder_is_taken_over_at_once_here_and_after_the_lease_from_elsewhere(
    db: str, tmp_path: Path, processes: Processes
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE.format(db=db, port=tmp_path / "no-such-tty"))
    start_chair(processes, site)
    processes.kill_all()  # SIGKILL: the lease is left behind, not released
    pid = start_chair(processes, site)  # started again on this computer: the dead process's lease is taken at once
    processes.kill_all()
    store = Store(db)
    try:
        with store.engine.begin() as conn:  # as if that process had run on the chair's own computer
            conn.execute(bed_holders.update().values(host="chair-pc-1"))
        refused = run_vigil("acquire", "--config", site, "--bed", "chair-1")
        assert refused.returncode == 2 and f"acquired by chair-pc-1 pid {pid}" in refused.stderr
        age_lease(store.engine, "chair-1", LEASE_TTL_S + 1)  # not heard from for the whole lease
        assert store.holders.current(["chair-1"])["chair-1"].stale
        taken = start_chair(processes, site)
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(bed_holders.c.host, bed_holders.c.pid)).one() == (socket.gethostname(), taken)
    finally:
        store.close()


def test_a_monitor_whose_bed_is_taken_over_stops_and_says_by_whom(
    scenario: Path, tmp_path: Path, processes: Processes
) -> None:
    """`vigil monitor` holds its bed as `acquire` does. Taken over (this process silent past its lease, here by
    ageing it), it stops acquiring and its view with it, in one line naming the new holder, rather than show
    numbers it no longer writes; the new holder's lease is left alone."""
    db = tmp_path / "vigil.db"
    monitor = DrivenMonitor(scenario)
    process = processes.start("monitor", "--port", monitor.pty.path, "--protocol", "ge-s5", "--bed", "chair-1",
                              "--clock", "device", "--db", db, "--http-port", "0", "--no-auth")
    monitor.take_request(0)
    monitor.send(0)
    wait_until(lambda: stored(str(db), 0), "the first record to be stored")
    store = Store(db)
    try:
        token = uuid.uuid4().hex

        def take() -> bool:  # the monitor's heartbeat may renew between the two: then again
            age_lease(store.engine, "chair-1", LEASE_TTL_S + 1)
            return store.holders.take("chair-1", token, "chair-pc-9", 9) is None

        wait_until(take, "another computer to take the bed")
        holder = store.holders.current(["chair-1"])["chair-1"]
        _, err = process.communicate(timeout=30)  # the monitor's next heartbeat finds the bed taken
        assert process.returncode == 2 and "Traceback" not in err, err
        assert err.splitlines()[-1] == (
            f"vigil monitor: error: acquisition failed, dashboard stopped: bed chair-1 was taken over by "
            f"{holder.describe()} while this process was not heard from: acquisition stopped")
        assert store.holders.current(["chair-1"])["chair-1"] == holder  # the new holder's, untouched
    finally:
        store.close()
        monitor.pty.hang_up()
