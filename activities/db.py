"""The database: connection pool and schema migrations."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant works: it only has to be the same in every process that migrates.
_MIGRATION_LOCK = 0x484F544C  # "HOTL"


def migrations() -> list[tuple[str, str]]:
    """Every migration shipped with the package, as (name, sql), in name order."""
    folder = Path(__file__).parent / "migrations"
    files = sorted(folder.glob("*.sql"), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not applied yet, each once, in order, under an advisory lock.

    Several workers may start at once; the lock makes one of them migrate and the others wait.
    A migration that was applied and has since changed is an error: history is not rewritten.

    Returns:
        The names of the migrations applied now.
    """
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   sha256 text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["name"]: r["sha256"] for r in await conn.fetch("SELECT name, sha256 FROM schema_migrations")}
        for name, sql in migrations():
            digest = hashlib.sha256(sql.encode()).hexdigest()
            if name in done:
                if done[name] != digest:
                    raise RuntimeError(f"migration {name} was changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)", name, digest)
            applied_now.append(name)
            log.info("db.migrated", migration=name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python objects."""

    async def init(conn: asyncpg.Connection) -> None:
        import json

        for typ in ("json", "jsonb"):
            await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=init)
    assert pool is not None
    return pool
