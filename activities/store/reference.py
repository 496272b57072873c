"""Reference data: the organisation directory (and, through calendar_store, the calendar)."""

from __future__ import annotations

import asyncpg

from domain.directory import ORGANISATIONS


async def seed_organisations(conn: asyncpg.Connection) -> int:
    """Insert the directory's organisations that are missing; existing rows are the database's.

    Returns:
        How many organisations were added.
    """
    rows = [(org, kind.value, name) for org, (kind, name) in ORGANISATIONS.items()]
    result = await conn.fetch(
        """
        INSERT INTO organisations (id, kind, name_zh)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )
    return len(result)
