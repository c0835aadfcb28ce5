"""Helpers several test modules share: a controllable monotonic clock, polling waits, running `vigil` (in the
foreground or as background processes), reading JSON, a pseudo-terminal to play a monitor on, and an emulated
monitor the test drives record by record."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import free_port as free_port  # shared with the fixtures

from adapters.model.reading import Reading
from adapters.protocols.ge_s5.emulator import GeS5Monitor
from adapters.protocols.hl7_mllp.emulator import Hl7Monitor
from adapters.simulation.scenario import load_scenario
from monitor.web.auth import AuthSettings

TIMEOUT = 10.0
NO_SIGN_IN = AuthSettings(required=False)  # for tests about the bed view itself, not about signing in to it


def json_strings(document: str | bytes) -> list[str]:
    """Every string in a JSON document (a Dash layout, a callback's response), decoded. Tests compare what a
    response says, never how its JSON spells it: plotly writes "—" as \\u2014 with its own json engine but as
    it is when orjson happens to be installed (and "<", ">", "/" as \\u003c, \\u003e, \\u002f with either)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                found.append(key)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(document))
    return found


def audited(store: Any, session_id: int) -> list:
    """A session's audit entries after the one that records its start: what was done in it."""
    return [a for a in store.audit.entries(session_id=session_id) if a.action != "session_start"]


# For a test of SQLite itself (its file, its pragmas): the `db` and `store` fixtures then run on SQLite only.
sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def refuse_inserts(store: Any, table: str, message: str) -> Callable[[], None]:
    """Make the database itself refuse every insert into `table` with `message` (a real failure of the store,
    on either engine); returns what lifts the refusal."""
    if store.engine.dialect.name == "sqlite":
        made = [f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"]
        lift = [f"DROP TRIGGER refuse_{table}"]
    else:
        made = [f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$",
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"]
        lift = [f"DROP TRIGGER refuse_{table} ON {table}", f"DROP FUNCTION refuse_{table}()"]

    def run(statements: list[str]) -> None:
        with store.engine.begin() as conn:
            for ddl in statements:
                conn.execute(sa.text(ddl))

    run(made)
    return lambda: run(lift)


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll a fast in-process condition (every 5 ms)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll a condition that costs a browser round trip; returns its first truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


ROOT = Path(__file__).resolve().parents[1]


def run_vigil(*args: str | Path, timeout: float = 120, env: dict[str, str] | None = None,
              preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """`vigil ARGS` as a real subprocess from the project root, text output captured; `preexec_fn` runs
    in the child before it starts (e.g. to drop privileges)."""
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *map(str, args)],
        cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
        preexec_fn=preexec_fn,
    )


def run_vigil_with_file_limit(limit: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`vigil ARGS` allowed to write files of at most `limit` bytes: a disk that fills up part-way."""
    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "monitor.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, preexec_fn=limit_files)


WRITE_ONE = """
import sys
from datetime import UTC, datetime
from adapters.model.reading import Reading
from monitor.store import Store
store = Store(sys.argv[1])
store.samples.write(int(sys.argv[2]), [Reading(datetime(2026, 11, 20, 9, tzinfo=UTC), "hr", 77.0, "other")])
store.close()
"""


def commit_from_another_process(db: str | Path, session_id: int) -> None:
    """One reading (HR 77 at 09:00 UTC, source "other") written to `session_id` by another process, as `vigil
    acquire` writes for a dashboard."""
    writer = subprocess.run([sys.executable, "-c", WRITE_ONE, str(db), str(session_id)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert writer.returncode == 0, writer.stderr


def settled(store: Any) -> int:
    """The store's generation once a second has passed without a change (its watcher, just started, has read
    where the database stands)."""
    generation = store.generation
    while store.wait_for_change(generation, timeout=1) != generation:
        generation = store.generation
    return generation


def start_vigil(*args: str | Path) -> subprocess.Popen[str]:
    """`vigil ARGS` running in the background, stdout and stderr as line-buffered text pipes."""
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "monitor.cli", *map(str, args)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )


class Pty:
    """A pseudo-terminal whose master end the test drives as the monitor."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.open = True

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def receive(self, n: int) -> bytes:
        """Exactly `n` bytes the link wrote, waiting at most TIMEOUT."""
        out = b""
        deadline = time.monotonic() + TIMEOUT
        while len(out) < n:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"timed out: got {len(out)} of {n} bytes from the link")
            out += os.read(self.master, n - len(out))
        return out

    def queued(self) -> int:
        """Bytes waiting in the terminal's input queue, not yet read by the link."""
        return struct.unpack("I", fcntl.ioctl(self.slave, termios.TIOCINQ, b"\0\0\0\0"))[0]

    def hang_up(self) -> None:
        """Close both ends, as when a USB adapter is pulled."""
        if self.open:
            self.open = False
            os.close(self.master)
            os.close(self.slave)


def outputs_of(dep: dict) -> list[dict] | dict:
    """The `outputs` of a callback request, from its dependency's output string (one output: not a list)."""
    text = dep["output"]
    if not text.startswith(".."):
        return dict(zip(("id", "property"), text.rsplit(".", 1), strict=True))
    return [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in text[2:-2].split("...")]


# The treatment-session tests' clock: a session from 09:00, and where the wall clock stands when users act.
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WALL = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """`minutes` after the session tests' 09:00."""
    return T0 + timedelta(minutes=minutes)


def nibp(minutes: float, sbp: float, dbp: float) -> list[Reading]:
    """One NIBP result (systolic and diastolic) at `at(minutes)`."""
    return [Reading(at(minutes), "sbp", sbp), Reading(at(minutes), "dbp", dbp)]


# The end-to-end scenario: three minutes from T0 at 1 Hz, with cuff measurements at these seconds.
NIBP_AT = (30, 90, 150)
SCENARIO_S = 180


def write_scenario(path: Path) -> Path:
    """Three minutes of 1 Hz HR/SpO2/PR/RR with three cuff measurements and a dose event, as a scenario CSV."""
    rng = random.Random(3)
    rows = ["time,sbp,dbp,map,hr,spo2,pr,rr,event"]
    for s in range(SCENARIO_S):
        nibp = [str(118 + s // 10), str(76 + s // 30), str(92 + s // 20)] if s in NIBP_AT else ["", "", ""]
        t = (T0 + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")
        continuous = [str(rng.randint(68, 84)), f"{rng.randint(960, 999) / 10:g}", str(rng.randint(66, 86)),
                      str(rng.randint(12, 18))]
        rows.append(",".join([t, *nibp, *continuous, "dose_start" if s == 60 else ""]))
    path.write_text("\n".join(rows) + "\n")
    return path


class Processes:
    """Background `vigil` processes, stopped as a service manager or Ctrl+C would (then killed) at the end
    of the test."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[str]] = []

    def start(self, *args: str | Path) -> subprocess.Popen[str]:
        process = start_vigil(*args)
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[str]) -> tuple[str, str]:
        """SIGTERM, which vigil turns into the same clean stop as Ctrl+C. Not SIGINT: a process started from
        a non-interactive shell's background job (a CI script's `pytest &`) inherits SIGINT ignored, as
        POSIX asks, and Python then leaves it ignored — the test would wait for a stop that never comes."""
        process.send_signal(signal.SIGTERM)
        try:
            return process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.communicate()

    def kill_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
                process.communicate()


def simulate(processes: Processes, protocol: str, scenario: Path, link: Path, speed: float,
             faults: str | None = None) -> subprocess.Popen[str]:
    """`vigil simulate` of `protocol` playing `scenario` on a pty it links at `link`."""
    args: list[str | Path] = ["simulate", "--protocol", protocol, "--scenario", scenario, "--speed", str(speed),
                              "--link", link]
    process = processes.start(*args, *(["--faults", faults] if faults else []))
    line = process.stdout.readline() if process.stdout else ""
    assert f"{protocol} emulator on /dev/" in line, line + (process.stderr.read() if process.poll() else "")
    assert link.exists()
    return process


class DrivenMonitor:
    """A protocol's emulator on a pty, driven record by record by the test: what it sent, and while which
    reader, is known exactly. A GE S/5 sends only once a reader asked (`take_request`); an HL7 sender pushes."""

    def __init__(self, scenario: Path, protocol: str = "ge-s5") -> None:
        self.pty = Pty()
        self.protocol = protocol
        self.device: GeS5Monitor | Hl7Monitor = (GeS5Monitor if protocol == "ge-s5" else Hl7Monitor)(
            load_scenario(str(scenario)))
        self.sent: list[int] = []  # the scenario seconds of the records sent

    def take_request(self, second: int) -> None:
        """A (re)started reader asks for records: they start at `second`. An HL7 sender is asked nothing:
        it goes on from `second`, skipping what fell due while no reader was there."""
        if self.protocol != "ge-s5":
            self.device.frames_due(T0 + timedelta(seconds=second - 1))
            return
        request = wait_for(lambda: self._read(), 60, "the reader's transmission request")
        assert self.device.receive(request, now=T0 + timedelta(seconds=second)) == 1

    def _read(self) -> bytes:
        out = b""
        while select.select([self.pty.master], [], [], 0)[0]:
            out += os.read(self.pty.master, 4096)
        return out

    def send(self, second: int) -> None:
        for record in self.device.frames_due(T0 + timedelta(seconds=second)):
            self.pty.send(record)
        self.sent.append(second)


def one_line_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The one line `vigil COMMAND` refused with: exit 2, no traceback, nothing else on stderr."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vigil {command}: error: "), result.stderr
    return lines[0]


def start_chair(processes: Processes, site: Path, bed: str = "chair-1", *options: str | Path) -> int:
    """Start a chair computer's `vigil acquire --config SITE --bed BED [OPTIONS]`; its pid, once it holds the bed and
    runs."""
    process = processes.start("acquire", "--config", site, "--bed", bed, *options)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(f"bed {bed}: "), line + (process.stderr.read() if process.poll() is not None else "")
    assert process.stdout.readline().startswith(f"acquiring bed {bed} into ")
    return process.pid


def stored(db: str, second: int, bed: str = "chair-1") -> bool:
    """Whether the end-to-end scenario's record of `second` (T0 + `second`) is stored on the bed's open session."""
    from monitor.store import Store

    store = Store(db)
    try:
        sid = store.beds.open_session(bed)
        t = T0 + timedelta(seconds=second)
        return sid is not None and bool(store.samples.readings(sid, t, t))
    finally:
        store.close()


def age_lease(engine: sa.Engine, bed_id: str, seconds: float) -> None:
    """Move the bed's holder's last heartbeat `seconds` into the past: as if it had been silent that long."""
    from monitor.store.schema import bed_holders

    with engine.begin() as conn:
        conn.execute(bed_holders.update().where(bed_holders.c.bed_id == bed_id)
                     .values(heartbeat_us=bed_holders.c.heartbeat_us - int(seconds * 1_000_000)))


class Relay:
    """The network between a chair computer and its database server, which a test can cut: every connection to
    `port` is relayed to `target` on this computer; `cut()` drops them all and refuses new ones (the chair's
    network is out, the server runs on for everyone else); `mend()` relays again, on the same port."""

    def __init__(self, target: int) -> None:
        self.target, self.port = target, free_port()
        self._server: socket.socket | None = None
        self._relayed: list[socket.socket] = []
        self.mend()

    def mend(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._server,), daemon=True).start()

    def cut(self) -> None:
        for sock in (*([self._server] if self._server else []), *self._relayed):
            _drop(sock)
            sock.close()
        self._server, self._relayed = None, []

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:  # cut
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self._relayed += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        _drop(source)
        _drop(sink)


def _drop(sock: socket.socket) -> None:
    """Shut a socket both ways: the threads blocked on it wake, its peer sees the connection end."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
