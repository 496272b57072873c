"""The database: connection pools and schema migrations (``migrations/*.sql`` beside this module)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Final

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant works: it only has to be the same in every process that migrates.
_MIGRATION_LOCK = 0x484F544C  # "HOTL"

#: How long a process waits for a first connection before it says the database cannot be reached.
CONNECT_TIMEOUT_S: Final = 5.0


class DatabaseUnavailableError(ConnectionError):
    """The configured database cannot be reached; ``url`` (no password) and ``reason`` say why."""

    def __init__(self, url: str, reason: str) -> None:
        """Keep the parts; the message is the line a person reads."""
        super().__init__(f"cannot reach the database at {url} (HOTLINE_DATABASE_URL): {reason}")
        self.url = url
        self.reason = reason


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


async def _json_codecs(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections decode json/jsonb to Python objects."""
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_json_codecs)
    assert pool is not None
    return pool


def safe_url(url: str) -> str:
    """``url`` without a password."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"


async def open_pool(
    url: str, *, max_size: int = 1, connect_seconds: float = CONNECT_TIMEOUT_S, json_codecs: bool = False
) -> asyncpg.Pool:
    """A pool on ``url`` within ``connect_seconds`` seconds, or one line saying why not.

    Args:
        url: The database.
        max_size: Connections in the pool.
        connect_seconds: Seconds to wait for the first connection.
        json_codecs: Decode json/jsonb to Python objects (as the workers' pool, `create_pool`).

    Raises:
        DatabaseUnavailableError: refused, timed out, no such database, authentication failed, bad URL.
    """
    make = (
        create_pool(url, min_size=1, max_size=max_size)
        if json_codecs
        else asyncpg.create_pool(url, min_size=1, max_size=max_size, timeout=connect_seconds)
    )
    try:
        pool = await asyncio.wait_for(make, connect_seconds + 1)
    except Exception as e:
        raise DatabaseUnavailableError(safe_url(url), str(e) or type(e).__name__) from e
    assert pool is not None
    return pool
