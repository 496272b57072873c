"""Bearer tokens of the handler gateway, and its audit log (PostgreSQL, ``004_tokens_audit.sql``,
``008_audit_disclosure.sql``).

A token stands for one org acting in one role (``domain.access.role_misfit`` says which roles an
org may hold). It is ``hl_`` followed by 43 URL-safe characters (256 random bits), shown once when
issued; the database keeps only its SHA-256, so a copy of the database lets nobody act. A revoked
token stays in the table (the audit log refers to it) and never verifies again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Final

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.access import role_misfit
from domain.errors import DomainError
from domain.models import Role

#: Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX: Final = "hl_"
#: Random bytes per token (``secrets.token_urlsafe``): 256 bits.
TOKEN_BYTES: Final = 32
#: Longer than any token we issue; anything longer is not looked up.
_MAX_TOKEN_LEN: Final = 128

#: How much of a path, a result or an id an audit row keeps (a fuzzer's path can be long).
AUDIT_TEXT_MAX: Final = 2000

_COLUMNS: Final = "id, org, role, label, issued_by, issued_at, revoked_at, last_used_at"


class InvalidToken(DomainError):
    """A token cannot be issued: unknown or inactive org, or a role the org may not hold."""


class TokenInfo(BaseModel):
    """A token as the database knows it: never the token itself."""

    model_config = ConfigDict(frozen=True)

    id: int
    org: str
    role: Role
    label: str
    issued_by: str
    issued_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class IssuedToken(TokenInfo):
    """A token just issued, with its secret: shown once, never stored."""

    token: str


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: asyncpg.Record) -> TokenInfo:
    return TokenInfo(**dict(row))


async def issue(pool: asyncpg.Pool, org: str, role: Role, *, label: str = "", issued_by: str) -> IssuedToken:
    """Issue a token for ``org`` acting as ``role``.

    Args:
        pool: The database.
        org: Org id of the directory; the database's `organisations` row must be active.
        role: The role the token acts in; it must fit the org (``domain.access.role_misfit``).
        label: What the token is for, e.g. `河西区城管委 desk app`.
        issued_by: Who issued it.

    Returns:
        The token with its secret, which is not kept anywhere: give it to its holder now.

    Raises:
        InvalidToken: unknown or inactive org, a role the org may not hold, or no `issued_by`.
    """
    misfit = role_misfit(org, role)
    if misfit is not None:
        raise InvalidToken(f"token refused: {misfit}")
    if not issued_by.strip():
        raise InvalidToken("token refused: issued_by is empty; allowed: who issues the token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    async with pool.acquire() as conn, conn.transaction():
        active = await conn.fetchval("SELECT active FROM organisations WHERE id = $1", org)
        if active is None:
            raise InvalidToken(f"token refused: org {org!r} is not in the database's organisation directory")
        if not active:
            raise InvalidToken(f"token refused: org {org!r} is inactive in the organisation directory")
        row = await conn.fetchrow(
            f"""INSERT INTO api_tokens (org, role, label, token_sha256, issued_by)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
            org,
            role.value,
            label,
            token_hash(token),
            issued_by,
        )
    assert row is not None
    return IssuedToken(**dict(row), token=token)


async def list_tokens(pool: asyncpg.Pool, *, include_revoked: bool = True) -> list[TokenInfo]:
    """Every token issued, oldest first (without secrets: they are not kept)."""
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY id")
    return [_info(r) for r in rows]


async def revoke(pool: asyncpg.Pool, token_id: int) -> bool:
    """Revoke a token: it never verifies again.

    Returns:
        True when revoked now; False when no such token or it was revoked already.
    """
    done = await pool.fetchval(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id", token_id
    )
    return done is not None


async def verify(pool: asyncpg.Pool, token: str) -> TokenInfo | None:
    """The token's org and role, recording its use; None for an unknown or revoked token.

    The lookup is by hash: the token itself is never compared, stored or logged.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LEN:
        return None
    row = await pool.fetchrow(
        f"""UPDATE api_tokens SET last_used_at = now()
            WHERE token_sha256 = $1 AND revoked_at IS NULL RETURNING {_COLUMNS}""",
        token_hash(token),
    )
    return None if row is None else _info(row)


async def record_audit(
    pool: asyncpg.Pool,
    *,
    method: str,
    path: str,
    status_code: int,
    result: str,
    token_id: int | None = None,
    org: str | None = None,
    role: str | None = None,
    action: str | None = None,
    order_no: str | None = None,
    request_id: str | None = None,
    disclosed: str | None = None,
) -> int:
    """Write one request to the audit log: who, what, which order, the answer, when, what it disclosed.

    Args:
        pool: The database.
        method: HTTP method.
        path: The request's path (no query string: it is not needed to say what was asked).
        status_code: The HTTP status answered.
        result: The answer in words: the refusal's message, or what was done. Never personal data.
        token_id: The token that authenticated the request, if any.
        org: The token's org.
        role: The token's role.
        action: The contract's action or query name.
        order_no: The order concerned.
        request_id: The action's `request_id`, if any.
        disclosed: Personal data the answer carried, by name (`reporter_phone`: a confidential
            reporter's phone shown to a unit's handling order); None when it carried none.

    Text is kept as given, except that NUL (which PostgreSQL text cannot hold) becomes ``\\0`` and
    anything past `AUDIT_TEXT_MAX` characters is cut: a request is audited whatever it carried.

    Returns:
        The audit row's id.
    """
    audit_id: int = await pool.fetchval(
        """INSERT INTO audit_log
               (token_id, org, role, method, path, action, order_no, status_code, result, request_id, disclosed)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id""",
        token_id,
        org,
        role,
        _text(method),
        _text(path),
        _text(action),
        _text(order_no),
        status_code,
        _text(result),
        _text(request_id),
        _text(disclosed),
    )
    return audit_id


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\\0")[:AUDIT_TEXT_MAX]
