"""The database as the `hotline` commands reach it: the configured URL, a pool for one command, and
the one line a person reads when the database cannot be used."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from activities.store.db import CONNECT_TIMEOUT_S, DatabaseUnavailableError, apply_migrations, open_pool
from starter.cli.exits import CliError
from starter.settings import Settings

T = TypeVar("T")


def database_url() -> str:
    """`HOTLINE_DATABASE_URL`, or the embedded stack's default."""
    return Settings.from_env().database_url


async def with_pool(
    fn: Callable[[Any], Awaitable[T]],
    *,
    max_size: int = 1,
    connect_seconds: float = CONNECT_TIMEOUT_S,
    json_codecs: bool = False,
    migrate: bool = False,
) -> T:
    """Run ``fn(pool)`` on the configured database and close the pool.

    Args:
        fn: The work.
        max_size: Connections in the pool.
        connect_seconds: Seconds to wait for the first connection.
        json_codecs: Decode json/jsonb to Python objects (as the workers' pool).
        migrate: Apply the migrations first (once, under the migration lock).

    Raises:
        DatabaseUnavailableError: the database cannot be reached.
    """
    pool = await open_pool(database_url(), max_size=max_size, connect_seconds=connect_seconds, json_codecs=json_codecs)
    try:
        if migrate:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
        return await fn(pool)
    finally:
        await pool.close()


def run_with_pool(
    command: str,
    fn: Callable[[Any], Awaitable[T]],
    *,
    migrated_by: str = "a worker start",
    **pool: Any,
) -> T:
    """Run ``fn(pool)`` to its end (`with_pool`'s arguments in ``pool``).

    Raises:
        CliError: exit 1, one line starting ``hotline COMMAND:``, when the database cannot be
            reached, is not migrated (``migrated_by`` says what migrates it) or fails.
    """
    try:
        return asyncio.run(with_pool(fn, **pool))
    except DatabaseUnavailableError as e:
        raise CliError(f"hotline {command}: {e}") from None
    except asyncpg.UndefinedTableError as e:
        raise CliError(f"hotline {command}: {e}; the database is not migrated ({migrated_by} migrates it)") from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as e:
        raise CliError(f"hotline {command}: database error: {e}") from None
