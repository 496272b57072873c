"""Nothing is lost when the database restarts under a running order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from activities.store.db import apply_migrations, create_pool
from activities.store.reference import seed_organisations
from domain.calendar import SHANGHAI
from domain.contract import STATUS_QUERY, WORK_ORDER, order_workflow_id
from domain.models import OrderStatus
from tests.support.ports import free_port
from tests.support.workflows import PLATFORM, new_order, running_worker
from workers.pg import EmbeddedPostgres


@pytest.mark.integration
async def test_database_restart_delays_the_projection_but_loses_nothing(
    dev_client: Client, task_queue: str, tmp_path: Path
) -> None:
    """With PostgreSQL down, actions still take effect in the order; when it is back, the
    projection and every timeline entry arrive, each once."""
    # durable: with synchronous_commit off, a stop that has to kill the server (a loaded machine)
    # would lose commits the activity was told of; production runs durable
    pg = EmbeddedPostgres(tmp_path / "pg", port=free_port(), durable=True)
    await asyncio.to_thread(pg.start)
    conn = await asyncpg.connect(pg.url)
    await apply_migrations(conn)
    await seed_organisations(conn)
    await conn.close()
    pool = await create_pool(pg.url, max_size=4)
    try:
        async with running_worker(dev_client, pool, task_queue):
            no = f"R{uuid.uuid4().hex[:10]}"
            now = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()
            handle = await dev_client.start_workflow(
                WORK_ORDER, new_order(no, dispatched_at=now), id=order_workflow_id(no), task_queue=task_queue
            )
            for _ in range(100):
                if await pool.fetchval("SELECT count(*) FROM orders WHERE order_no = $1", no):
                    break
                await asyncio.sleep(0.1)
            await asyncio.to_thread(pg.stop)
            status = await handle.execute_update("receive", {"actor": PLATFORM}, result_type=OrderStatus)
            assert status.phase.value == "received"
            await asyncio.sleep(1.5)  # the record activity fails and is retried meanwhile
            await asyncio.to_thread(pg.start)
            row = None
            for _ in range(300):
                try:
                    row = await pool.fetchrow("SELECT phase FROM orders WHERE order_no = $1", no)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    row = None
                if row is not None and row["phase"] == "received":
                    break
                await asyncio.sleep(0.1)
            assert row is not None
            assert row["phase"] == "received"
            kinds = [r["kind"] for r in await pool.fetch(
                "SELECT kind FROM order_timeline WHERE order_no = $1 ORDER BY seq", no
            )]  # fmt: skip
            assert kinds == [e.kind for e in (await handle.query(STATUS_QUERY, result_type=OrderStatus)).timeline]
            await handle.terminate("test over")
    finally:
        await pool.close()
        await asyncio.to_thread(pg.stop)
