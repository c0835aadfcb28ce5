"""The MLLP listener: the network edge where HL7 monitors in client mode connect (Mindray, Philips Efficia,
gateways), each on its own TCP connection with its own sans-I/O decoder.

What to do with a message is the caller's (`Handler`): the site routes it to a bed, commits what it carries
and says how to answer (for all the messages one read completed at once); only then are the acknowledgements
sent, so an ACK always follows the commit and a
monitor that resends what was not acknowledged loses nothing.

Threads, not selectors: answering a message waits for its commit in the store, which is blocking I/O, and a
connection waiting for its commit must not hold up the others; a thread per connection, with the connection
count bounded, keeps each monitor's wait its own and the code straight. Misbehaving peers are bounded:
* a connection silent for `idle_s` (no complete message: a half-open connection, a peer sending only noise or
  a frame that never ends) is closed;
* a frame is capped at `max_frame` bytes and bytes outside frames are never kept, so a connection holds at
  most `max_frame` plus one read buffer;
* at most `max_connections` at once: at the limit a new connection replaces the quietest connection that has
  not had a message accepted yet (a flood of idle or unknown connections cannot lock monitors out); if every
  connection has proved itself, the new one is refused;
* a connection reads at most READ_BYTES per turn and decodes what it read before the next, on its own thread,
  so one peer's flood costs its thread's share of the interpreter, never another connection's answer.
Nothing a peer sends raises out of a connection's thread: a failure closes that connection, counted and
logged once per cause.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder
from adapters.protocols.hl7_mllp.received import Received

log = logging.getLogger(__name__)

READ_BYTES = 1 << 16
POLL_S = 0.25  # how often a connection looks at its idle time and the stop flag
MAX_FRAME = 1 << 18  # an ORU of numerics is a few kB; 256 kB leaves room for a gateway's many beds
MAX_CONNECTIONS = 64
IDLE_S = 120.0  # Philips Efficia sends its record every 60 s: twice that without a message is a dead peer
SEND_TIMEOUT_S = 5.0  # an ACK that cannot be sent in this long: the peer is not reading, the connection is dropped


@dataclass(frozen=True)
class Verdict:
    """How to answer an accepted message: `outcome` A (stored), R (rejected), E (not stored, resend);
    `text` says why when not A, `error` an HL7 table 0357 `code^name` for ERR-3."""

    outcome: str
    text: str = ""
    error: str = ""


@dataclass(eq=False)
class Connection:
    """One peer's connection, as handlers see it."""

    id: int
    peer: str  # host:port
    opened: float = field(default_factory=time.monotonic)
    proven: bool = False  # a message of it was accepted: never replaced by a newcomer at the limit
    last_message: float = field(default_factory=time.monotonic)
    ended: str = ""  # why the listener ended it, when it did (replaced at the connection limit)


Handler = Callable[[Connection, list[Received]], list[Verdict]]  # a verdict per message, in order
Closed = Callable[[Connection, str], None]


class MllpListener:
    """Accepts HL7 senders on one address; each connection's messages go to `handler`, its end to `closed`."""

    def __init__(self, host: str, port: int, handler: Handler, closed: Closed, *,
                 max_connections: int = MAX_CONNECTIONS, idle_s: float = IDLE_S, max_frame: int = MAX_FRAME) -> None:
        self.host, self.port = host, port
        self.handler, self.closed = handler, closed
        self.max_connections, self.idle_s, self.max_frame = max_connections, idle_s, max_frame
        self.stats: Counter[str] = Counter()
        self._server: socket.socket | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: dict[Connection, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._next_id = 0
        self._causes: set[str] = set()

    def open(self) -> None:
        """Bind and listen; raises OSError (a busy port, an address not of this computer) before anything runs."""
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        server = socket.socket(family, socket.SOCK_STREAM)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((self.host, self.port))
            server.listen(128)
        except OSError:
            server.close()
            raise
        server.settimeout(POLL_S)
        self._server = server
        self.port = server.getsockname()[1]  # port 0 asks for a free one

    def start(self) -> None:
        if self._server is None:
            self.open()
        thread = threading.Thread(target=self._accept, name=f"mllp-accept-{self.port}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection (each reported to `closed`) and wait for their threads."""
        self._stop.set()
        if self._server is not None:
            self._server.close()
        with self._lock:
            sockets = list(self._open.values())
        for sock in sockets:
            _shutdown(sock)
        for thread in list(self._threads):
            thread.join(timeout)

    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self._open)

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                sock, address = self._server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop(), or out of file descriptors: wait, never spin
                self._stop.wait(POLL_S)
                continue
            self._count("accepted")
            conn = self._admit(sock, f"{address[0]}:{address[1]}")
            if conn is None:
                continue
            thread = threading.Thread(target=self._serve, args=(conn, sock), name=f"mllp-{conn.id}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _admit(self, sock: socket.socket, peer: str) -> Connection | None:
        """The new connection, within the limit: replacing the quietest unproven one if need be, else refused."""
        with self._lock:
            if len(self._open) >= self.max_connections:
                unproven = [c for c in self._open if not c.proven]
                if not unproven:
                    self.stats["refused"] += 1
                    self._log_once("refused", "refusing HL7 connections beyond %d (every one sends accepted "
                                   "messages); first refused: %s", self.max_connections, peer)
                    _shutdown(sock)
                    return None
                oldest = min(unproven, key=lambda c: c.last_message)
                self.stats["replaced"] += 1
                self._log_once("replaced", "HL7 connection limit %d reached: replacing unproven connections "
                               "(first: %s for %s)", self.max_connections, oldest.peer, peer)
                oldest.ended = f"replaced by {peer}: {self.max_connections} connections at most"
                _shutdown(self._open.pop(oldest))  # its thread ends on its own, reporting `ended`
            self._next_id += 1
            conn = Connection(self._next_id, peer)
            self._open[conn] = sock
        return conn

    def _serve(self, conn: Connection, sock: socket.socket) -> None:
        decoder = Hl7MllpDecoder("mllp", max_frame=self.max_frame)
        reason = "closed by the peer"
        try:
            sock.settimeout(POLL_S)
            reason = self._read(conn, sock, decoder)
        except OSError as exc:  # the socket went under it (replaced at the limit, the listener stopping)
            reason = f"connection lost: {exc.strerror or exc}"
        except Exception as exc:  # a bug must cost this connection, never the listener
            self._count("connection_errors")
            reason = f"error: {type(exc).__name__}: {exc}"
            self._log_once(type(exc).__name__, "HL7 connection %s failed: %s", conn.peer, reason, error=True)
        finally:
            with self._lock:
                self._open.pop(conn, None)
            _shutdown(sock)
            self._count("closed", extra={f"decoder:{k}": v for k, v in decoder.stats.items() if k not in _ROUTINE})
            self.closed(conn, conn.ended or reason)

    def _read(self, conn: Connection, sock: socket.socket, decoder: Hl7MllpDecoder) -> str:
        """Serve the connection until it ends; returns why."""
        while not self._stop.is_set():
            try:
                data = sock.recv(READ_BYTES)
            except TimeoutError:
                data = None
            except OSError as exc:
                return f"connection lost: {exc.strerror or exc}"
            if data == b"":
                return "closed by the peer"
            if data:
                self._count("bytes", len(data))
                messages = decoder.messages(data)
                if messages:
                    conn.last_message = time.monotonic()
                    if not self._answer(conn, sock, messages):
                        return "not reading its acknowledgements"
            if time.monotonic() - conn.last_message >= self.idle_s:
                self._count("idle_closed")
                return f"no message for {self.idle_s:g} s"
        return "listener stopped"

    def _answer(self, conn: Connection, sock: socket.socket, messages: list[Received]) -> bool:
        """Hand the accepted messages one read completed to the handler (which returns once they are committed,
        together: a sender catching up costs one commit per read, not one per message), then acknowledge each,
        in order."""
        accepted = [m for m in messages if m.outcome == "A"]
        verdicts = iter(self.handler(conn, accepted) if accepted else [])
        acks = bytearray()
        for message in messages:
            verdict = next(verdicts) if message.outcome == "A" else Verdict(message.outcome)
            self._count("messages", extra={f"outcome_{verdict.outcome}": 1})
            conn.proven |= verdict.outcome == "A"
            acks += message.ack(verdict.outcome, verdict.text, verdict.error)
        if not acks:
            return True
        sock.settimeout(SEND_TIMEOUT_S)
        try:
            sock.sendall(acks)
        except OSError:
            return False
        finally:
            sock.settimeout(POLL_S)
        self._count("acks", acks.count(b"\x0b"))
        return True

    def _count(self, key: str, n: int = 1, extra: dict[str, int] | None = None) -> None:
        """Counted under the lock: connection threads update `stats` at once, and `+=` is not atomic."""
        with self._lock:
            self.stats[key] += n
            if extra:
                self.stats.update(extra)

    def _log_once(self, cause: str, text: str, *args: object, error: bool = False) -> None:
        """The first of each kind of trouble at warning (error for a bug); repeats at debug: a flood must not
        flood the log."""
        first = cause not in self._causes
        self._causes.add(cause)
        level = (logging.ERROR if error else logging.WARNING) if first else logging.DEBUG
        log.log(level, text, *args)


_ROUTINE = {"frames", "valid_frames", "messages", "readings", "acks"}  # counted by the listener itself


def parse_address(text: str) -> tuple[str, int]:
    """`host:port` (`[::1]:2575` for IPv6) as (host, port); ValueError saying what is expected."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 0.0.0.0:2575), got {text!r}")
    return host, int(port)


def _shutdown(sock: socket.socket) -> None:
    """Close a socket another thread may be blocked in: shutdown wakes it, close frees the descriptor."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
