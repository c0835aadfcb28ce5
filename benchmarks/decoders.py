"""Decoder throughput in MB/s: how far ahead of a serial line do the protocol decoders run?

Run as `python benchmarks/decoders.py [--quick]`. It prints figures and never asserts timings:
numbers from a shared CI box are for ranking approaches and spotting growth, not pass/fail.

Why: a decoder runs on the acquisition thread beside the store and the dashboard, so it must cost a
negligible share of a CPU. A GE S/5 Computer Interface line is 19200 baud 8E1 (11 bits a byte, so
19200 / 11 = 1745 bytes/s); the target is ≥ 5 MB/s for `ge-s5`, thousands of times the line rate.

What is measured (best and median of 7 runs, 2 with --quick; MB = 10^6 bytes; only `feed` is timed —
the input is read and cut into chunks beforehand, and each run uses a fresh decoder):
- `GeS5Decoder` on each real capture in tests/data/ge_s5/*.raw (monitor byte streams, PHDB and
  waveform records; db01 has 308 corrupt frames) fed in 4096-byte chunks: frames, checksum failures
  and readings from the decoder's own counters, MB/s, and the ratio to a 19200-baud 8E1 line.
- the same decoder on the largest capture in 64-byte chunks, to show what small reads cost.
- `Hl7MllpDecoder` on a synthetic MLLP stream: every instant of the `iv-ketamine` scenario (first
  10 min with --quick) encoded by `encode_oru` as one ORU^R01 each (increasing control ids), fed in
  4096-byte chunks; the decoder also queues an ACK per message (MSH-16 = AL), which is counted in.
- `PhilipsMibDecoder` on what an emulated IntelliVue sends over the same scenario (first 10 min with
  --quick) while associated with a decoder: the AARE, the MDS create and a poll result a second, split into
  linked results — the bytes a `--raw-out` capture would hold — fed in 4096-byte chunks, and the ratio to
  the MIB port's 115200-baud 8N1 line (10 bits a byte).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, timedelta
from itertools import groupby
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `monitor` and `adapters` importable
    sys.path.insert(0, str(ROOT))

from adapters.model.reading import Reading  # noqa: E402
from adapters.protocols.base import Item  # noqa: E402
from adapters.protocols.ge_s5.decoder import GeS5Decoder  # noqa: E402
from adapters.protocols.hl7_mllp.decoder import Hl7MllpDecoder  # noqa: E402
from adapters.protocols.hl7_mllp.message import encode_oru  # noqa: E402
from adapters.protocols.philips_mib.decoder import PhilipsMibDecoder  # noqa: E402
from adapters.protocols.philips_mib.emulator import PhilipsMibMonitor  # noqa: E402
from adapters.simulation.physiology import DEFAULT_START, SCENARIOS, generate  # noqa: E402
from adapters.simulation.scenario import Scenario  # noqa: E402

CAPTURES = ROOT / "tests" / "data" / "ge_s5"
SCENARIO = "iv-ketamine"
QUICK_MINUTES = 10
REPEATS, QUICK_REPEATS = 7, 2
CHUNK, SMALL_CHUNK = 4096, 64
LINE_BYTES_S = 19200 / 11  # 19200 baud, 8E1: start + 8 data + parity + stop = 11 bits a byte
TARGET_MB_S = 5.0
MB = 1e6

ROW_GE = "ge-s5 "  # + capture file name
ROW_CHUNK = "ge-s5 chunks "  # + chunk size
ROW_HL7 = f"hl7-mllp {SCENARIO}"
ROW_MIB = f"philips-mib {SCENARIO}"
MIB_LINE_BYTES_S = 115200 / 10  # 8N1: start + 8 data + stop
ROW_TARGET = f"target: ge-s5 >= {TARGET_MB_S:g} MB/s:"


# -- timing ---------------------------------------------------------------------------------------


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def time_decoder(
    make: Callable[[], GeS5Decoder | Hl7MllpDecoder], chunks: list[bytes], repeats: int
) -> tuple[list[float], int, Counter[str]]:
    """Feed every chunk to a fresh decoder, `repeats` times: (seconds per run, items, the last run's stats)."""
    times: list[float] = []
    n_items, stats = -1, Counter[str]()
    for _ in range(repeats):
        decoder = make()
        items: list[Item] = []
        t0 = time.perf_counter()
        for chunk in chunks:
            items += decoder.feed(chunk)
        times.append(time.perf_counter() - t0)
        if n_items >= 0 and (len(items) != n_items or decoder.stats != stats):
            raise RuntimeError(f"{type(decoder).__name__} gave different results on the same input")
        n_items, stats = len(items), decoder.stats
    return times, n_items, stats


def rates(size: int, times: list[float]) -> tuple[float, float]:
    """(best, median) bytes per second."""
    return size / min(times), size / statistics.median(times)


# -- data -----------------------------------------------------------------------------------------


def hl7_stream(minutes: int | None) -> tuple[bytes, int, int]:
    """The scenario as MLLP bytes, one ORU^R01 per instant: (stream, messages, readings encoded)."""
    readings, _ = generate(SCENARIOS[SCENARIO], DEFAULT_START)
    if minutes is not None:
        end = DEFAULT_START + timedelta(minutes=minutes)
        readings = [r for r in readings if r.time < end]
    parts: list[bytes] = []
    for i, (_, group) in enumerate(groupby(readings, key=lambda r: r.time), start=1):
        instant: list[Reading] = list(group)
        parts.append(encode_oru(instant, control_id=f"{i:08d}"))
    return b"".join(parts), len(parts), len(readings)


def mib_stream(minutes: int | None) -> tuple[bytes, int]:
    """What an emulated IntelliVue sends over the scenario while a decoder talks to it: (bytes, readings)."""
    readings, events = generate(SCENARIOS[SCENARIO], DEFAULT_START)
    if minutes is not None:
        end = DEFAULT_START + timedelta(minutes=minutes)
        readings, events = [r for r in readings if r.time < end], [e for e in events if e.time < end]
    device, decoder = PhilipsMibMonitor(Scenario(readings, events, DEFAULT_START)), PhilipsMibDecoder(tz=UTC)
    decoder.start()
    t = DEFAULT_START
    device.receive(decoder.pending_output(), t)
    sent: list[bytes] = []
    n = 0
    while (due := device.next_due()) is not None:
        t = max(t, due)
        data = b"".join(device.frames_due(t))
        sent.append(data)
        n += len(decoder.feed(data))
        device.receive(decoder.pending_output(), t)
    return b"".join(sent), n


# -- report ---------------------------------------------------------------------------------------


def fmt_mb(bytes_s: float) -> str:
    return f"{bytes_s / MB:.1f}"


def fmt_int(v: float) -> str:
    return f"{v:,.0f}".replace(",", " ")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick_help = f"a smoke run: {QUICK_REPEATS} runs, {QUICK_MINUTES} min of HL7"
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args(argv)
    repeats = QUICK_REPEATS if args.quick else REPEATS
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # keeps order with stderr progress

    print("Vigil decoder throughput benchmark" + (" (--quick)" if args.quick else ""))
    print(f"env: {os.cpu_count()} CPUs, Python {platform.python_version()} on {platform.platform()}")

    # 1. ge-s5 on the real captures, 4096-byte chunks.
    captures = sorted(CAPTURES.glob("*.raw"))
    if not captures:
        raise FileNotFoundError(f"no GE S/5 captures in {CAPTURES}")
    print()
    print(f"ge-s5 (GeS5Decoder) on real captures, {CHUNK}-byte chunks, best/median of {repeats} runs")
    head = f"{'':<36}{'bytes':>10}{'frames':>8}{'bad sum':>9}{'readings':>10}{'MB/s best':>11}{'median':>8}"
    print(f"{head}{'x line':>9}")
    ge_best: dict[str, float] = {}
    for path in captures:
        data = path.read_bytes()
        log(f"ge-s5: {path.name} ({len(data)} bytes), {repeats} run(s)")
        times, n, stats = time_decoder(GeS5Decoder, chunked(data, CHUNK), repeats)
        best, median = rates(len(data), times)
        ge_best[path.name] = best
        print(f"{ROW_GE + path.name:<36}{len(data):>10}{stats['frames']:>8}{stats['checksum_failures']:>9}"
              f"{n:>10}{fmt_mb(best):>11}{fmt_mb(median):>8}{fmt_int(best / LINE_BYTES_S):>9}")

    # 2. ge-s5 on the largest capture, small reads against 4096-byte ones.
    largest = max(captures, key=lambda p: p.stat().st_size)
    data = largest.read_bytes()
    print()
    print(f"ge-s5 chunking cost on {largest.name}, best/median of {repeats} runs")
    print(f"{'':<36}{'chunks':>10}{'MB/s best':>11}{'median':>8}{'x line':>9}{'vs 4096':>9}")
    reference = 0.0
    for size in (CHUNK, SMALL_CHUNK):  # timed again side by side, so that the ratio compares like with like
        chunks = chunked(data, size)
        log(f"ge-s5: {largest.name} in {size}-byte chunks, {repeats} run(s)")
        times, _, _ = time_decoder(GeS5Decoder, chunks, repeats)
        best, median = rates(len(data), times)
        reference = reference or best
        print(f"{f'{ROW_CHUNK}{size} B':<36}{len(chunks):>10}{fmt_mb(best):>11}{fmt_mb(median):>8}"
              f"{fmt_int(best / LINE_BYTES_S):>9}{best / reference:>8.2f}x")

    # 3. hl7-mllp on a synthetic stream.
    minutes = QUICK_MINUTES if args.quick else None
    log(f"hl7-mllp: encoding {SCENARIO}" + (f", first {minutes} min" if minutes else ""))
    stream, n_messages, n_encoded = hl7_stream(minutes)
    log(f"hl7-mllp: {len(stream)} bytes, {repeats} run(s)")
    times, n, stats = time_decoder(Hl7MllpDecoder, chunked(stream, CHUNK), repeats)
    if (n, stats["messages"], stats["acks"]) != (n_encoded, n_messages, n_messages):
        raise RuntimeError(f"hl7-mllp decoded {n} readings / {stats['messages']} messages / {stats['acks']} ACKs, "
                           f"encoded {n_encoded} / {n_messages}")
    best, median = rates(len(stream), times)
    span = f"first {minutes} min" if minutes else f"{SCENARIOS[SCENARIO].duration_s // 60} min"
    print()
    print(f"hl7-mllp (Hl7MllpDecoder), an ORU^R01 per instant of {SCENARIO} {span}, "
          f"{CHUNK}-byte chunks, best/median of {repeats} runs")
    print(f"{'':<36}{'bytes':>10}{'messages':>10}{'readings':>10}{'MB/s best':>11}{'median':>8}{'msg/s best':>12}")
    print(f"{ROW_HL7:<36}{len(stream):>10}{n_messages:>10}{n:>10}{fmt_mb(best):>11}{fmt_mb(median):>8}"
          f"{fmt_int(n_messages / min(times)):>12}")

    # 4. philips-mib on an emulated monitor's byte stream.
    log(f"philips-mib: emulating {SCENARIO}" + (f", first {minutes} min" if minutes else ""))
    stream, n_expected = mib_stream(minutes)
    log(f"philips-mib: {len(stream)} bytes, {repeats} run(s)")
    times, n, stats = time_decoder(lambda: PhilipsMibDecoder(tz=UTC), chunked(stream, CHUNK), repeats)
    if n != n_expected:
        raise RuntimeError(f"philips-mib decoded {n} readings from the stream, {n_expected} while it was sent")
    best, median = rates(len(stream), times)
    print()
    print(f"philips-mib (PhilipsMibDecoder), an emulated IntelliVue on {SCENARIO} {span}, "
          f"{CHUNK}-byte chunks, best/median of {repeats} runs")
    print(f"{'':<36}{'bytes':>10}{'frames':>10}{'readings':>10}{'MB/s best':>11}{'median':>8}{'x 115200':>10}")
    print(f"{ROW_MIB:<36}{len(stream):>10}{stats['frames']:>10}{n:>10}{fmt_mb(best):>11}{fmt_mb(median):>8}"
          f"{fmt_int(best / MIB_LINE_BYTES_S):>10}")

    print()
    print(f"x line = best bytes/s over a 19200-baud 8E1 line ({LINE_BYTES_S:.0f} B/s); MB = 10^6 bytes; "
          f"only feed() is timed.")
    name, top = max(ge_best.items(), key=lambda kv: kv[1])
    met = "MET" if top >= TARGET_MB_S * MB else "NOT MET"
    print(f"{ROW_TARGET} {met} (best {fmt_mb(top)} MB/s on {name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
