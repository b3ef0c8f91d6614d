"""Databases for tests: every persistence test runs on SQLite and on PostgreSQL.

PostgreSQL is expected at 127.0.0.1:5432 (user postgres, trust auth). The suite creates its
own database there, migrates it once and truncates it between tests; it is dropped at the
end. When PostgreSQL cannot be reached its tests are skipped, and the report header and
summary say so loudly; under CI (CI=true) an unreachable PostgreSQL fails the run instead.
"""

import asyncio
import os
import shutil
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.migrate import upgrade
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.service_layer.messagebus import MessageBus
from tests.fakes import FakeClock, FakeNotifier
from tests.network_guard import GUARD
from tests.stripe_contract import stripe_requests  # noqa: F401  (autouse: every test)

PG_HOST = os.environ.get("LIVEBUY_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PG_ADMIN_DB = "test"


def _pg_reachable() -> str | None:
    async def probe() -> None:
        conn = await asyncpg.connect(f"{PG_HOST}/{PG_ADMIN_DB}", timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


PG_PROBLEM = _pg_reachable()


def pytest_report_header() -> str:
    if PG_PROBLEM:
        return f"!!! PostgreSQL UNREACHABLE at {PG_HOST} - its tests are SKIPPED: {PG_PROBLEM}"
    return f"PostgreSQL reachable at {PG_HOST}: persistence tests run on SQLite and PostgreSQL"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if PG_PROBLEM:
        terminalreporter.write_sep("!", "PostgreSQL was UNREACHABLE: its tests were SKIPPED")


# pytest-timeout (180 s) shows the threads' stacks, where a hung asyncio test only shows its
# event loop waiting; a little earlier this prints what every task of that loop awaits.
HANG_DUMP_AFTER = float(os.environ.get("LIVEBUY_HANG_DUMP_AFTER", "150"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    timer = threading.Timer(HANG_DUMP_AFTER, _print_tasks, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _print_tasks(nodeid: str) -> None:
    out = sys.__stderr__
    frame: FrameType | None = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None and not isinstance(frame.f_locals.get("self"), asyncio.BaseEventLoop):
        frame = frame.f_back
    print(f"\n!!! {nodeid} still runs after {HANG_DUMP_AFTER:.0f} s; its tasks:", file=out)
    if frame is None:
        print("(no event loop in the main thread)", file=out)
        return
    for _ in range(3):  # the loop goes on meanwhile: its task set may change under us
        try:
            tasks = list(asyncio.all_tasks(frame.f_locals["self"]))
            break
        except RuntimeError:
            continue
    else:
        return
    for task in tasks:
        print(f"- {task.get_name()}:", file=out)
        awaiting: object = task.get_coro()
        while awaiting is not None:  # down the chain of awaits, coroutine by coroutine
            code_frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "ag_frame", None)
            if code_frame is not None:
                code = code_frame.f_code
                print(f"    {code.co_filename}:{code_frame.f_lineno} {code.co_name}", file=out)
            awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "ag_await", None)


def pytest_sessionstart(session: pytest.Session) -> None:
    if PG_PROBLEM and os.environ.get("CI"):
        raise pytest.UsageError(f"CI expects PostgreSQL at {PG_HOST}: {PG_PROBLEM}")


# The longest tests (15-90 s on a loaded machine) are started first: under pytest-xdist two
# processes then end nearly together, instead of one running a long test alone at the end.
# Only the order changes; a file missing from this list is merely started later.
LONG_FIRST = (
    "tests/e2e/test_workers.py",
    "tests/e2e/test_emulator_access.py",
    "tests/twitch/test_limits.py",
    "tests/e2e/test_flood.py",
    "tests/telegram/test_flood.py",
    "tests/telegram/test_inbox.py",
    "tests/e2e/test_bench.py",
    "tests/integration/test_auction_concurrency.py",
    "tests/integration/test_concurrency.py",
    "tests/e2e/test_pay_links.py",
    "tests/e2e/test_stripe_event_shapes.py",
    "tests/e2e/test_stream_platforms.py",
    "tests/browser/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        for i, prefix in enumerate(LONG_FIRST, start=1):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONG_FIRST) + 1

    items.sort(key=rank)  # stable: the order within a rank is kept


def pytest_configure(config: pytest.Config) -> None:
    GUARD.install()  # no test leaves this machine (tests/network_guard.py)


@pytest.fixture(autouse=True)
def offline() -> Iterator[None]:
    """Fails a test that connected (or tried to) to an address off this machine."""
    GUARD.take()
    yield
    if left := GUARD.take():
        pytest.fail("tests run offline, but this one tried: " + "; ".join(left), pytrace=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file that every test copies (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    name = f"livebuy_test_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(f"{PG_HOST}/{PG_ADMIN_DB}")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    # A commit does not wait for its fsync (3-4 ms each here, far more while other processes
    # write): what every other transaction sees, and when, is unchanged; only a crash of the
    # machine could lose the last commits, as with SQLite's WAL and synchronous=NORMAL that the
    # product uses (commerce/adapters/db.py). No test crashes PostgreSQL.
    asyncio.run(admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = f"{PG_HOST}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Emptying the database between tests: DELETE from every table and restart the sequences, in
# one transaction. TRUNCATE (which gives each of ~45 tables new files) took 0.5 s a test on a
# loaded machine; this takes ~10 ms, and leaves the same empty, ids-from-1 database.
_EMPTY_STATEMENTS: dict[str, str] = {}


async def _empty_statement(conn: asyncpg.Connection) -> str:
    tables = await conn.fetch(
        "SELECT quote_ident(tablename) FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    )
    sequences = await conn.fetch(
        "SELECT quote_ident(sequencename), start_value FROM pg_sequences"
        " WHERE schemaname = 'public'"
    )
    restarts = ", ".join(f"setval('{name}', {start}, false)" for name, start in sequences)
    return (
        "BEGIN; SET LOCAL session_replication_role = replica;"  # no foreign key checks
        + "".join(f" DELETE FROM {table};" for (table,) in tables)
        + (f" SELECT {restarts};" if restarts else "")
        + " COMMIT;"
    )


def _truncate(url: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            if url not in _EMPTY_STATEMENTS:
                _EMPTY_STATEMENTS[url] = await _empty_statement(conn)
            await conn.execute(_EMPTY_STATEMENTS[url])
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A migrated, empty PostgreSQL database, for tests of several workers on one."""
    _truncate(pg_database)
    return pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "livebuy.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


def test_settings(database_url: str, **overrides: object) -> Settings:
    """Settings that ignore the developer's own .env file. Flood control is off unless a
    test turns it on (tests type faster than people; tests/e2e/test_flood.py tests it), and
    web chat claims hold as on the other platforms (tests/e2e/test_web_claims.py tests the
    other modes)."""
    quiet = {"livebuy_rate_per_buyer": "off", "livebuy_rate_per_ip": "off"}
    overrides = quiet | {"livebuy_web_claims": "hold"} | overrides
    return Settings(_env_file=None, database_url=database_url, **overrides)  # type: ignore[call-arg]


test_settings.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
async def bus(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[MessageBus]:
    bus = bootstrap(test_settings(database_url), engine, clock=clock, notifier=notifier)
    yield bus
    await bus.deps.store.close()
