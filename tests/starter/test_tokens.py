"""Gateway tokens in PostgreSQL: only hashes stored, verify, revoke, and which org may hold which role."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from activities.store import tokens
from domain.models import Role


class TestIssue:
    async def test_only_the_hash_is_stored(self, pool: asyncpg.Pool) -> None:
        """The raw token appears nowhere in the database; its SHA-256 does."""
        t = await tokens.issue(pool, "district-hexi", Role.HANDLER, label="河西 desk", issued_by="管理员")
        assert t.token.startswith("hl_")
        assert len(t.token) >= 40
        row = await pool.fetchrow("SELECT * FROM api_tokens WHERE id = $1", t.id)
        assert row is not None
        assert t.token not in repr(dict(row))
        assert row["token_sha256"] == hashlib.sha256(t.token.encode()).hexdigest()
        dump = await pool.fetchval("SELECT string_agg(t::text, ' ') FROM api_tokens t")
        assert t.token not in dump
        assert t.token.removeprefix("hl_") not in dump

    async def test_tokens_are_unique_and_listed_without_secrets(self, pool: asyncpg.Pool) -> None:
        """Two tokens for the same org differ; the list has both, and neither secret."""
        a = await tokens.issue(pool, "center", Role.OPERATOR, issued_by="x")
        b = await tokens.issue(pool, "center", Role.OPERATOR, issued_by="x")
        assert a.token != b.token
        listed = {t.id: t for t in await tokens.list_tokens(pool)}
        assert {a.id, b.id} <= set(listed)
        assert "token" not in listed[a.id].model_dump()

    @pytest.mark.parametrize(
        ("org", "role", "words"),
        [
            ("nobody", Role.HANDLER, "unknown org 'nobody'"),
            ("district-hexi", Role.OPERATOR, "district-hexi cannot act as operator"),
            ("center", Role.SUPERVISOR, "center cannot act as supervisor"),
            ("dept-lighting", Role.HOTLINE, "dept-lighting cannot act as hotline"),
            ("hotline", Role.HANDLER, "hotline cannot act as handler"),
        ],
    )
    async def test_role_must_fit_the_org(self, pool: asyncpg.Pool, org: str, role: Role, words: str) -> None:
        """An org gets only the roles the lifecycle gives it; nothing is written otherwise."""
        before = await pool.fetchval("SELECT count(*) FROM api_tokens")
        with pytest.raises(tokens.InvalidToken, match=words):
            await tokens.issue(pool, org, role, issued_by="x")
        assert await pool.fetchval("SELECT count(*) FROM api_tokens") == before


class TestVerify:
    async def test_verify_names_org_and_role_and_records_use(self, pool: asyncpg.Pool) -> None:
        """A good token gives its org and role; its last use is recorded."""
        t = await tokens.issue(pool, "utilities", Role.SUPERVISOR, issued_by="x")
        assert t.last_used_at is None
        info = await tokens.verify(pool, t.token)
        assert info is not None
        assert (info.id, info.org, info.role) == (t.id, "utilities", Role.SUPERVISOR)
        assert info.last_used_at is not None

    @pytest.mark.parametrize("token", ["", "hl_", "hl_nosuchtoken", "Bearer x", "hl_" + "a" * 500])
    async def test_unknown_tokens_verify_to_nothing(self, pool: asyncpg.Pool, token: str) -> None:
        """Anything not issued is None."""
        assert await tokens.verify(pool, token) is None

    async def test_revoked_token_never_verifies(self, pool: asyncpg.Pool) -> None:
        """Revoke once: True, and the token is refused; a second revoke finds nothing to do."""
        t = await tokens.issue(pool, "hotline", Role.HOTLINE, issued_by="x")
        assert await tokens.verify(pool, t.token) is not None
        assert await tokens.revoke(pool, t.id) is True
        assert await tokens.verify(pool, t.token) is None
        assert await tokens.revoke(pool, t.id) is False
        assert await tokens.revoke(pool, 10**12) is False
        listed = {x.id: x for x in await tokens.list_tokens(pool)}
        assert listed[t.id].revoked_at is not None
        assert t.id not in {x.id for x in await tokens.list_tokens(pool, include_revoked=False)}


class TestAudit:
    async def test_a_row_per_request(self, pool: asyncpg.Pool) -> None:
        """An audit row keeps who, what, which order and the answer; a NUL byte does not lose it."""
        t = await tokens.issue(pool, "district-hexi", Role.HANDLER, issued_by="x")
        audit_id = await tokens.record_audit(
            pool,
            method="POST",
            path="/orders/TJ1/actions/contribute",
            status_code=403,
            result="contribute refused: district-hexi (handler) is not a unit assigned to this order",
            token_id=t.id,
            org=t.org,
            role=t.role.value,
            action="contribute",
            order_no="TJ1",
            request_id="r\x001",
        )
        row = await pool.fetchrow("SELECT * FROM audit_log WHERE id = $1", audit_id)
        assert row is not None
        who = (row["org"], row["role"], row["order_no"], row["status_code"])
        assert who == ("district-hexi", "handler", "TJ1", 403)
        assert row["at"] is not None
        assert row["request_id"] == "r\\01"
