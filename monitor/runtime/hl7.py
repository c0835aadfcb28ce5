"""HL7 beds: the site's one MLLP listener and the beds it feeds (`[hl7] listen` and `hl7_id` in site.toml).

The listener (`adapters/transport/mllp_listener.py`) hands each accepted message here. `Hl7Service` routes it
by its sender's identifiers to the bed whose `hl7_id` matches (the order is `received.SenderIds`'s); a
sender no bed claims is answered AR with the reason, counted, logged with its identifiers once, and kept in
`unknown_senders()` for the admin to copy an id from. Nothing from it is stored.

Each HL7 bed's `Hl7Feed` is that bed's link for its `LiveRunner`, like a serial link: the runner's own thread
decodes the messages routed to the bed (with the bed's decoder, so NIBP repeats and `tz` are the bed's,
whichever connection the monitor came back on) and commits them; the listener's connection thread waits for
that commit and only then acknowledges. A message not committed in time is answered AE (the sender resends;
a resend of what was stored meanwhile is a duplicate the store ignores).

Readings keep the monitor's own times: HL7 times carry their UTC offset, and a resent message must land on
the same stored reading, which a receive-time stamp would not give. A bed's connections coming and going
are its link events: the last connection closing is `link_lost` (with why), the next message after it
`link_restored`; the alarm engine raises signal loss from them as for a serial bed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.model.reading import LINK_LOST, LINK_RESTORED, Event, Reading
from adapters.protocols.base import Item, ProtocolSpec
from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder
from adapters.protocols.hl7_mllp.received import Received, SenderIds
from adapters.transport.mllp_listener import IDLE_S, MAX_CONNECTIONS, MAX_FRAME, Connection, MllpListener, Verdict
from adapters.transport.serial_link import Sink
from monitor.errors import first_line

log = logging.getLogger(__name__)

COMMIT_TIMEOUT_S = 10.0  # a message not committed in this long is answered AE: the sender resends it
QUEUE = 256  # messages waiting for one bed's commit; more is a flood, answered AE
MAX_BATCH = 64  # messages committed in one transaction
MAX_UNKNOWN = 100  # unknown senders listed; the least recently heard make room
UNKNOWN_KEY = "204^Unknown key identifier^HL70357"
NOT_STORED = "207^Application internal error^HL70357"


@dataclass
class _Job:
    """Work for a bed's runner thread: a routed message, or a link event; `done` once it is settled."""

    message: Received | None = None
    restored: bool = False
    lost: str | None = None
    stored: bool = False
    done: threading.Event | None = None


class Hl7Feed:
    """One HL7 bed's link: the messages routed to it, committed on its runner's thread."""

    def __init__(self, decoder: Hl7MllpDecoder, *, commit_timeout_s: float = COMMIT_TIMEOUT_S) -> None:
        self.decoder = decoder
        self.commit_timeout_s = commit_timeout_s
        self._jobs: queue.Queue[_Job] = queue.Queue(QUEUE)
        self._lock = threading.Lock()
        self._connections: set[int] = set()
        self._lost = False
        self._running = threading.Event()
        self._newest: tuple[datetime, float] | None = None  # newest time delivered, monotonic time then

    @classmethod
    def of(cls, spec: ProtocolSpec, source: str, options: Mapping[str, Any]) -> Hl7Feed:
        """The feed of a bed whose protocol (hl7-mllp) and options (its tz) are given."""
        decoder = spec.new_decoder(source, options)
        if not isinstance(decoder, Hl7MllpDecoder):
            raise ValueError(f"an HL7 bed's protocol is hl7-mllp, not {spec.name}")
        return cls(decoder)

    @property
    def source(self) -> str:
        return self.decoder.source

    def close(self) -> None:
        """Nothing to close: the connections are the listener's."""

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """The runner's thread: commit what was routed to the bed through `sink` until `stop`, the messages
        waiting at once in one batch (one transaction: a monitor catching up after an outage costs one commit
        per batch, not per message). A sink failure (the store) ends the runner as for a serial bed; the
        messages still waiting are answered AE."""
        self._running.set()
        try:
            while not stop.is_set():
                try:
                    jobs = [self._jobs.get(timeout=0.2)]
                except queue.Empty:
                    continue
                while len(jobs) < MAX_BATCH and not self._jobs.empty():
                    jobs.append(self._jobs.get_nowait())
                try:
                    self._commit(jobs, sink)
                finally:
                    for job in jobs:
                        if job.done is not None:
                            job.done.set()
        finally:
            self._running.clear()
            while not self._jobs.empty():
                left = self._jobs.get_nowait()
                if left.done is not None:
                    left.done.set()

    def deliver(self, conn: Connection, messages: list[Received]) -> list[Verdict]:
        """On a listener thread: queue the messages for the bed and wait until they are committed."""
        if not self._running.is_set():
            return [Verdict("E", "not stored: this bed is not acquiring", NOT_STORED)] * len(messages)
        with self._lock:
            restored = self._lost
            self._lost = False
            self._connections.add(conn.id)
        deadline = time.monotonic() + self.commit_timeout_s
        jobs: list[_Job] = []
        for message in messages:
            job = _Job(message, restored=restored and not jobs, done=threading.Event())
            try:
                self._jobs.put(job, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                break
            jobs.append(job)
        verdicts = [self._verdict(job, deadline) for job in jobs]
        busy = Verdict("E", "not stored: too many messages waiting for this bed; resend later", NOT_STORED)
        return verdicts + [busy] * (len(messages) - len(jobs))

    @staticmethod
    def _verdict(job: _Job, deadline: float) -> Verdict:
        assert job.done is not None
        if not job.done.wait(max(0.0, deadline - time.monotonic())) or not job.stored:
            return Verdict("E", "not stored in time; resend", NOT_STORED)
        return Verdict("A")

    def dropped(self, conn: Connection, reason: str) -> None:
        """A connection ended: the bed's link is lost when it was the bed's last one."""
        with self._lock:
            if conn.id not in self._connections:
                return
            self._connections.discard(conn.id)
            if self._connections:
                return
            self._lost = True
        try:
            self._jobs.put(_Job(lost=f"{conn.peer}: {reason}"), timeout=self.commit_timeout_s)
        except queue.Full:
            log.error("link loss of %s not recorded: its queue stayed full", self.source)

    def _commit(self, jobs: list[_Job], sink: Sink) -> None:
        batch: list[Item] = []
        decoded = [job for job in jobs if self._add(job, batch)]
        if batch:
            sink(batch)
        for job in decoded:
            job.stored = True

    def _add(self, job: _Job, batch: list[Item]) -> bool:
        """Add what a job brings to the batch, its link events placed after everything before them."""
        items: list[Item] = []
        if job.message is not None:
            try:
                items = self.decoder.items(job.message)
            except Exception as exc:  # a decoder bug costs the message (answered AE), never the bed
                self.decoder.stats["decoder_errors"] += 1
                log.error("HL7 message %r not decoded: %s", job.message.control_id, first_line(exc))
                return False
        now = self._event_now()
        if job.restored:
            first = min((i.time for i in items if isinstance(i, Reading) and i.measured_at is None), default=now)
            items.insert(0, Event(self._after_newest(min(first, now)), LINK_RESTORED, source=self.source))
        if job.lost is not None:
            items.append(Event(self._after_newest(now), LINK_LOST, job.lost, source=self.source))
        if items:
            batch += items
            newest = max(i.time for i in items)
            if self._newest is None or newest > self._newest[0]:
                self._newest = (newest, time.monotonic())
        return True

    def _event_now(self) -> datetime:
        """Now on the monitor's clock: the newest time it delivered plus the time since, else this computer's."""
        if self._newest is None:
            return datetime.now(UTC)
        newest, at = self._newest
        return newest + timedelta(seconds=time.monotonic() - at)

    def _after_newest(self, t: datetime) -> datetime:
        return t if self._newest is None else max(t, self._newest[0])


@dataclass(frozen=True)
class UnknownSender:
    """A sender no bed claims, as the admin sees it: its identifiers and where and when it was heard."""

    ids: SenderIds
    peer: str
    first_seen: datetime
    last_seen: datetime
    messages: int


def unknown_sender_notice(sender: UnknownSender) -> str:
    """One line for the central view: who the sender is, as site.toml would name it, and what became of it."""
    last = sender.last_seen.astimezone().strftime("%H:%M:%S")
    noun = "message" if sender.messages == 1 else "messages"
    return (f"HL7 sender no bed claims ({sender.peer}): {sender.ids.describe()} — {sender.messages} {noun} "
            f"rejected, last at {last}; give its bed this hl7_id in site.toml")


class Hl7Service:
    """The site's MLLP listener and its routing table: `hl7_id` → the bed's feed. `any_sender`: the one bed
    of `vigil acquire --listen` without an id, fed by whoever connects."""

    def __init__(self, host: str, port: int, beds: dict[str, Hl7Feed], any_sender: Hl7Feed | None = None, *,
                 max_connections: int = MAX_CONNECTIONS, idle_s: float = IDLE_S, max_frame: int = MAX_FRAME) -> None:
        self.beds = {hl7_id.strip().casefold(): feed for hl7_id, feed in beds.items()}
        self.any_sender = any_sender
        self.listener = MllpListener(host, port, self._handle, self._closed, max_connections=max_connections,
                                     idle_s=idle_s, max_frame=max_frame)
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._unknown: OrderedDict[tuple[str, ...], UnknownSender] = OrderedDict()

    def open(self) -> None:
        self.listener.open()

    def start(self) -> None:
        self.listener.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.listener.stop(timeout)

    def route(self, ids: SenderIds) -> Hl7Feed | None:
        """The bed whose `hl7_id` is the first of the sender's identifiers to match one (`SenderIds` order)."""
        for candidate in ids.candidates():
            if candidate in self.beds:
                return self.beds[candidate]
        return self.any_sender

    def unknown_senders(self) -> list[UnknownSender]:
        """The senders no bed claims, the most recently heard first."""
        with self._lock:
            return list(reversed(self._unknown.values()))

    def _handle(self, conn: Connection, messages: list[Received]) -> list[Verdict]:
        """Each message to its bed (a bed's in one delivery, so in one commit), an unknown sender's rejected."""
        verdicts: list[Verdict | None] = [None] * len(messages)
        beds: dict[int, tuple[Hl7Feed, list[int]]] = {}
        for i, message in enumerate(messages):
            ids = message.sender()
            feed = self.route(ids)
            if feed is None:
                self._remember(ids, conn.peer)
                verdicts[i] = Verdict("R", "no bed has this sender's hl7_id; add one of these to its bed in "
                                           f"site.toml: {ids.describe()}", UNKNOWN_KEY)
            else:
                beds.setdefault(id(feed), (feed, []))[1].append(i)
        for feed, indices in beds.values():
            for i, verdict in zip(indices, feed.deliver(conn, [messages[i] for i in indices]), strict=True):
                verdicts[i] = verdict
        return [v for v in verdicts if v is not None]

    def _remember(self, ids: SenderIds, peer: str) -> None:
        now = datetime.now(UTC)
        key = ids.key()
        with self._lock:
            self.stats["unknown_messages"] += 1
            known = self._unknown.pop(key, None)
            if known is None:
                log.warning("HL7 message from an unknown sender at %s rejected (AR): %s", peer, ids.describe())
                known = UnknownSender(ids, peer, now, now, 0)
            self._unknown[key] = UnknownSender(ids, peer, known.first_seen, now, known.messages + 1)
            while len(self._unknown) > MAX_UNKNOWN:
                self._unknown.popitem(last=False)

    def _closed(self, conn: Connection, reason: str) -> None:
        log.info("HL7 connection from %s ended: %s", conn.peer, reason)
        feeds = {id(f): f for f in [*self.beds.values(), self.any_sender] if f is not None}
        for feed in feeds.values():
            feed.dropped(conn, reason)
