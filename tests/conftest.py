"""Shared fixtures: paths to the project's sample data and the shared test vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"


@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA
