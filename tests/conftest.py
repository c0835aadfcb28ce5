"""Shared fixtures: paths to the project's sample data and test vectors, a real store, pseudo-terminals to
play monitors on, and the guard that keeps tests writing only in their temporary folders."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from dash.testing.application_runners import ThreadedRunner
from dash.testing.composite import DashComposite
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from monitor.store import Store

if TYPE_CHECKING:  # support imports the web layer: loaded only by the tests that use it
    from postgres import Cluster
    from support import Processes, Pty

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"
TEST_DATA = ROOT / "tests" / "data"  # real device captures, each folder with its source and licence

# Hypothesis keeps its examples and caches in ./.hypothesis unless told otherwise, and writes there while
# tests are collected: so it is told here, on import, and the folder goes when the run ends.
_HYPOTHESIS_HOME = tempfile.TemporaryDirectory(prefix="vigil-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME.name)
# A chair's acquisition on a database server keeps its spool in the user's state folder by default
# (monitor/runtime/spool.py): the tests' `vigil` processes inherit a temporary one instead.
_STATE_HOME = tempfile.TemporaryDirectory(prefix="vigil-state-")
os.environ["XDG_STATE_HOME"] = _STATE_HOME.name
# No time limit per example (Hypothesis' default is 200 ms): a wall-clock assertion fails on a loaded machine,
# and a fresh checkout pays for building Hypothesis' Unicode tables inside the first example.
settings.register_profile("vigil", deadline=None)
settings.load_profile("vigil")

# What Python and the tools make in a checkout, rather than the tests.
_TOOL_FOLDERS = frozenset({".git", "__pycache__", ".pytest_cache", ".ruff_cache"})


def _project_entries() -> set[Path]:
    """Every file and folder in the project, relative to its root, leaving out the tools' own."""
    found: set[Path] = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _TOOL_FOLDERS and not d.endswith(".egg-info")]
        base = Path(folder).relative_to(ROOT)
        found.update(base / name for name in (*dirs, *files))
    return found


@pytest.fixture(scope="session", autouse=True)
def tests_write_only_in_temporary_folders() -> Iterator[None]:
    """Fail the run if the tests left anything new in the project: a test that writes beside the code
    (a relative path, with the project as the working directory) dirties every checkout it runs in."""
    before = _project_entries()
    yield
    new = sorted(str(p) for p in _project_entries() - before)
    if new:
        pytest.fail(f"the tests left new files in the project (write under tmp_path instead): {', '.join(new)}",
                    pytrace=False)


def free_port() -> int:
    """A loopback TCP port nobody listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _FreePortRunner(ThreadedRunner):
    """dash_duo's server on a free port: Dash counts up from 8050 in each process, so two test processes at once
    (pytest-xdist's workers, or two runs on one machine) would both take 8050."""

    def start(self, app: Any, start_timeout: float = 3, **kwargs: Any) -> None:
        kwargs.setdefault("port", free_port())
        super().start(app, start_timeout, **kwargs)


@pytest.fixture
def dash_thread_server() -> Iterator[ThreadedRunner]:
    """The server dash_duo starts each app on (overrides dash.testing's fixture of the same name)."""
    with _FreePortRunner() as runner:
        yield runner


class _OneChromium:
    """The Chromium every browser test of this process uses in turn. Starting one costs about a second of CPU
    (of the three a test's page costs), so it starts once per test process. Between tests a new tab replaces the
    old ones (their pages, and scripts added to them), cookies (the sign-in) are cleared, the window gets its
    first size back and the console log is read empty; what stays is what Vigil's pages do not use (each
    origin's storage, the HTTP cache, downloads). A browser that cannot be reset so is quit, and the next test
    starts a new one."""

    def __init__(self) -> None:
        self.driver: Any = None
        self.rect: dict[str, int] = {}

    def take(self, start: Callable[[], Any]) -> Any:
        if self.driver is None:
            self.driver = start()
            self.rect = self.driver.get_window_rect()
        return self.driver

    def give_back(self) -> None:
        driver = self.driver
        try:
            old = driver.window_handles
            driver.switch_to.new_window("tab")
            fresh = driver.current_window_handle
            for handle in old:
                driver.switch_to.window(handle)
                driver.close()
            driver.switch_to.window(fresh)
            driver.execute_cdp_cmd("Page.bringToFront", {})  # focused, as a new browser's first tab is
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            driver.set_window_rect(**self.rect)
            driver.get_log("browser")
        except Exception:  # a crashed browser or driver (not only a WebDriverException): start afresh
            self.quit()

    def quit(self) -> None:
        if self.driver is not None:
            driver, self.driver = self.driver, None
            with suppress(Exception):  # already dead, maybe
                driver.quit()


class _Duo(DashComposite):
    """dash.testing's `dash_duo`, on the test process's one Chromium."""

    def __init__(self, chromium: _OneChromium, **kwargs: Any) -> None:
        self._chromium = chromium
        super().__init__(**kwargs)

    def get_webdriver(self) -> Any:
        return self._chromium.take(super().get_webdriver)

    def __exit__(self, *exc: object) -> None:
        self._chromium.give_back()


@pytest.fixture(scope="session")
def _chromium() -> Iterator[_OneChromium]:
    chromium = _OneChromium()
    yield chromium
    chromium.quit()


@pytest.fixture
def dash_duo(dash_thread_server: ThreadedRunner, _chromium: _OneChromium) -> Iterator[DashComposite]:
    """A browser on a Dash app of the test's (overrides dash.testing's fixture of the same name)."""
    with _Duo(_chromium, server=dash_thread_server, browser="chrome", options=[pytest_setup_options()],
              percy_run=False) as duo:
        yield duo


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


ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """This test process's own PostgreSQL server (tests/postgres.py), started the first time a test needs it."""
    from postgres import Cluster

    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres: Cluster) -> str:
    """A database holding this version's schema, which each test's database is copied from (faster than
    migrating each)."""
    name = postgres.new_database()
    Store(postgres.url(name)).close()
    return name


@contextmanager
def new_database(request: pytest.FixtureRequest, engine: str, folder: Path, *, schema: bool = True
                 ) -> Iterator[str]:
    """A database no other test uses, as `--db` and `Store` take it: `vigil.db` in `folder`, or a PostgreSQL URL
    on the test process's server (holding the schema already, unless `schema` is False), dropped after."""
    if engine == "sqlite":
        yield str(folder / "vigil.db")
        return
    cluster: Cluster = request.getfixturevalue("postgres")
    name = cluster.new_database(template=request.getfixturevalue("postgres_template") if schema else None)
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, once on each engine (`new_database`)."""
    with new_database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
def postgresql_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own on the test process's PostgreSQL server, for a test of PostgreSQL only."""
    with new_database(request, "postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    """A real Store on a real database, SQLite file or PostgreSQL server (each test runs on both), closed
    after the test."""
    s = Store(db)
    yield s
    s.close()


@pytest.fixture
def pty() -> Iterator[Callable[[], Pty]]:
    """Makes pseudo-terminals to play monitors on; each is hung up after the test."""
    from support import Pty

    made: list[Pty] = []

    def make() -> Pty:
        made.append(Pty())
        return made[-1]

    yield make
    for p in made:
        p.hang_up()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """The end-to-end scenario (`support.write_scenario`) in a CSV file."""
    from support import write_scenario

    return write_scenario(tmp_path / "scenario.csv")


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Starts background `vigil` processes; any still running after the test is killed."""
    from support import Processes

    procs = Processes()
    yield procs
    procs.kill_all()


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


# The modules whose tests last longest (end-to-end runs of real processes, a 60-s database outage): run first, so
# that pytest-xdist's workers finish together instead of one of them starting a minute-long test at the end.
LONG_FIRST = ("test_outage.py", "test_chair_e2e.py", "test_site_e2e.py", "test_hl7_site_e2e.py",
              "test_site_browser.py", "test_device_e2e.py", "test_crash.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))
