"""Shared fixtures: paths to the project's sample data and test vectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
TEST_DATA = ROOT / "tests" / "data"  # real device captures, each folder with its source and licence

@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA


@pytest.fixture
def ge_captures() -> Path:
    """Real GE S/5 serial captures (tests/data/ge_s5/README.md says where they come from)."""
    return TEST_DATA / "ge_s5"


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
