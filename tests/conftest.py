"""Shared fixtures: paths to the project's sample data and the shared test vectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
# Real monitor captures live beside the project (architecture §7), not in it.
TESTVECTORS = ROOT.parent / "shared" / "testvectors"


@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA


@pytest.fixture
def ge_captures() -> Path:
    """The GE S/5 captures; skipped, saying why, only when the shared folder is absent."""
    folder = TESTVECTORS / "ge_s5"
    if not folder.is_dir():
        pytest.skip(f"GE S/5 captures not found at {folder} (expected beside the project)")
    return folder


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "vigil.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A real Store on a real SQLite file, closed after the test."""
    s = Store(db_path)
    yield s
    s.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,900",
)


def pytest_setup_options():
    """dash_duo's browser: Debian's Chromium, headless, with no calls to the (closed) network."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    if CHROMIUM.exists():
        options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    return options
