"""Outbox rows for the consumer tests: databases of a test's own, and notifications and
city-hotline messages written as `record_order` writes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from activities.store.db import apply_migrations

T0 = datetime(2026, 11, 27, 2, 15, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _url(database_url: str, name: str) -> str:
    return database_url.rsplit("/", 1)[0] + f"/{name}"


async def migrated_template(database_url: str) -> str:
    """The name of a new, migrated, empty database on the server of ``database_url``."""
    name = f"outbox_tmpl_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(_url(database_url, name))
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return name


async def fresh_database(database_url: str, template: str) -> str:
    """The URL of a new database copied from ``template``."""
    name = f"outbox_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return _url(database_url, name)


def new_run() -> str:
    """A run id of the test's own."""
    return f"run-{uuid.uuid4().hex[:12]}"


async def add_notifications(
    pool: asyncpg.Pool,
    n: int,
    *,
    run_id: str | None = None,
    recipient: str = "dept-lighting",
    order_no: str = "TJ1",
    duty: bool = False,
) -> list[int]:
    """Insert ``n`` notifications as `record_order` would; their ids in order."""
    run_id = run_id or new_run()
    route = f"duty:{recipient}" if duty else recipient
    rows = await pool.fetch(
        """
        INSERT INTO notification_outbox (run_id, seq, route, order_no, recipient, kind, body, due,
            event_at, duty_break, duty_contact, duty_phone)
        SELECT $1, s, $2, $3, $4, 'receipt_warning', '查收期限将至 #' || s, $5, $6, $7, $8, $9
        FROM generate_series(1, $10) AS s
        ORDER BY s
        RETURNING id
        """,
        run_id, route, order_no, recipient, T0 + 8 * 60 * MINUTE, T0,
        T0.date() if duty else None, "值班员" if duty else None, "13900000000" if duty else None, n,
    )  # fmt: skip
    return sorted(r["id"] for r in rows)


async def add_hotline_messages(pool: asyncpg.Pool, n: int, *, order_no: str = "TJ2") -> list[int]:
    """Insert ``n`` city-hotline messages; their ids in order."""
    run_id = new_run()
    ids = []
    for seq in range(1, n + 1):
        ids.append(
            await pool.fetchval(
                """INSERT INTO hotline_outbox (run_id, seq, order_no, kind, body, payload, event_at)
                   VALUES ($1, $2, $3, 'reply', '已修复', $4, $5) RETURNING id""",
                run_id,
                seq,
                order_no,
                {"order_no": order_no, "result": "已修复", "seq": seq},
                T0,
            )
        )
    return ids
