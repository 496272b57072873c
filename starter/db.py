"""The database as the `hotline` commands reach it: one place for the URL, the pool and the one
line a person reads when the database cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: How long a command waits for a connection before it says the database cannot be reached.
CONNECT_TIMEOUT_S = 5.0


class DatabaseUnavailableError(ConnectionError):
    """The configured database cannot be reached; ``url`` (no password) and ``reason`` say why."""

    def __init__(self, url: str, reason: str) -> None:
        """Keep the parts; the message is the line a person reads."""
        super().__init__(f"cannot reach the database at {url} (HOTLINE_DATABASE_URL): {reason}")
        self.url = url
        self.reason = reason


def database_url() -> str:
    """`HOTLINE_DATABASE_URL`, or the embedded stack's default."""
    from workers.settings import Settings

    return Settings.from_env().database_url


def safe_url(url: str) -> str:
    """``url`` without a password."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"


async def open_pool(
    url: str | None = None, *, max_size: int = 1, connect_seconds: float = CONNECT_TIMEOUT_S, json_codecs: bool = False
) -> Any:
    """A pool on ``url`` (default: the configured database) within ``connect_seconds`` seconds.

    Args:
        url: The database; `database_url()` when omitted.
        max_size: Connections in the pool.
        connect_seconds: Seconds to wait for the first connection.
        json_codecs: Decode json/jsonb to Python objects (the workers' pool, `activities.db.create_pool`).

    Raises:
        DatabaseUnavailableError: refused, timed out, no such database, authentication failed, bad URL.
    """
    import asyncpg

    from activities.db import create_pool

    url = url or database_url()
    make = (
        create_pool(url, min_size=1, max_size=max_size)
        if json_codecs
        else asyncpg.create_pool(url, min_size=1, max_size=max_size, timeout=connect_seconds)
    )
    try:
        return await asyncio.wait_for(make, connect_seconds + 1)
    except Exception as e:
        raise DatabaseUnavailableError(safe_url(url), str(e) or type(e).__name__) from e


async def with_pool(
    fn: Callable[[Any], Awaitable[T]],
    *,
    max_size: int = 1,
    connect_seconds: float = CONNECT_TIMEOUT_S,
    json_codecs: bool = False,
) -> T:
    """Run ``fn(pool)`` on the configured database and close the pool.

    Raises:
        DatabaseUnavailableError: as `open_pool`.
    """
    pool = await open_pool(max_size=max_size, connect_seconds=connect_seconds, json_codecs=json_codecs)
    try:
        return await fn(pool)
    finally:
        await pool.close()
