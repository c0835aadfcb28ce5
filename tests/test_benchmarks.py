"""The benchmark scripts still run end to end; their timings are printed for people, never asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import ROOT

LIVE_UPDATE_ROWS = (
    "bytes/update @0 min",
    "bytes/update @2 h",
    "server ms/update @0 min",
    "server ms/update @2 h",
    "latency ms @1 reading/s",
    "targets:",
)


@pytest.mark.browser
def test_live_update_benchmark_quick_run_prints_its_table() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "live_update.py"), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for row in LIVE_UPDATE_ROWS:
        assert row in result.stdout, f"missing {row!r} in:\n{result.stdout}"


CHECK_24H_ROWS = (
    "rows",
    "episodes",
    "parse s",
    "engine s",
    "vigil check s (best)",
    "vigil check s (median)",
    "  compiling modules (best)",
    "target: vigil check on 24 h ≤ 1 s",
)


def quick_run(script: str, rows: tuple[str, ...]) -> list[str]:
    """Run `benchmarks/SCRIPT --quick`; it must succeed and print a line starting with each row label."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for row in rows:
        assert any(line.startswith(row) for line in lines), f"missing {row!r} in:\n{result.stdout}"
    return lines


def test_check_24h_benchmark_quick_run_prints_its_table() -> None:
    lines = quick_run("check_24h.py", CHECK_24H_ROWS)
    episodes = next(line for line in lines if line.startswith("episodes"))
    assert int(episodes.split()[1]) > 0, "vigil check found no episodes:\n" + "\n".join(lines)


DECODERS_ROWS = (
    "ge-s5 pycollect_db00.raw",
    "ge-s5 pycollect_db01.raw",
    "ge-s5 pycollect_db02.raw",
    "ge-s5 pycollect_notebooks_raw.raw",
    "ge-s5 chunks 4096 B",
    "ge-s5 chunks 64 B",
    "hl7-mllp iv-ketamine",
    "philips-mib iv-ketamine",
    "target: ge-s5 >= 5 MB/s:",
)


def test_decoders_benchmark_quick_run_prints_its_table() -> None:
    quick_run("decoders.py", DECODERS_ROWS)


PAGE_SPEED_ROWS = (
    "load cold cache",
    "load warm cache",
    "busy one bed 1x",
    "busy demo 20x",
    "targets:",
)


@pytest.mark.browser
def test_page_speed_benchmark_quick_run_prints_its_table() -> None:
    quick_run("page_speed.py", PAGE_SPEED_ROWS)


HL7_LISTENER_ROWS = ("messages/s to the store", "ACK latency p50 ms", "ACK latency p95 ms", "readings stored")


def test_hl7_listener_benchmark_quick_run_prints_its_table() -> None:
    """Its quick run also checks that every message's readings were stored once (else it fails)."""
    quick_run("hl7_listener.py", HL7_LISTENER_ROWS)


SITE_SCALE_ROWS = (
    "server cpu % of a core",
    "server rss MB",
    "latency ms write->tile",
    "main thread busy %",
    "bytes/bed update",
    "targets:",
)


@pytest.mark.browser
def test_site_scale_benchmark_quick_run_prints_its_table() -> None:
    lines = quick_run("site_scale.py", SITE_SCALE_ROWS)
    updates = next(line for line in lines if line.startswith("bytes/bed update"))
    assert "0 bed updates" not in updates, "the central view's stream carried nothing:\n" + "\n".join(lines)


SITE_CHAIRS_ROWS = (
    "commit ms write->stored",
    "commit ms server side",
    "central cpu % of a core",
    "chair cpu % of a core",
    "postgresql cpu % of core",
    "latency ms write->tile",
    "bytes/bed update",
)


@pytest.mark.browser
def test_site_chairs_benchmark_quick_run_prints_its_table() -> None:
    """Chair processes (2 in a quick run), a central server and a PostgreSQL server of its own: every reading must be
    stored."""
    lines = quick_run("site_chairs.py", SITE_CHAIRS_ROWS)
    stored = next(line for line in lines if line.startswith("commit ms write->stored"))
    assert ", 0 never stored)" in stored and "(0 readings" not in stored, "\n".join(lines)
