"""Outbox consumers against the real embedded PostgreSQL: claims, leases, acknowledgements.

Each test gets a database of its own (a copy of a migrated template on the session's server):
`claim` takes whatever is pending in a box, and the workflow tests write outbox rows into the
session's shared database, so sharing it would make these tests take, and change, rows that are
not theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from activities.store import outbox
from activities.store.db import create_pool
from tests.support.outbox import (
    MINUTE,
    T0,
    add_hotline_messages,
    add_notifications,
    fresh_database,
    migrated_template,
)


@pytest.fixture(scope="session")
async def outbox_template(database_url: str) -> str:
    """A migrated, empty database to copy for each test (created once)."""
    return await migrated_template(database_url)


@pytest.fixture
async def db(database_url: str, outbox_template: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on an empty, migrated database of this test's own."""
    p = await create_pool(await fresh_database(database_url, outbox_template), max_size=10)
    yield p
    await p.close()


async def expire_leases(pool: asyncpg.Pool, table: str = "notification_outbox") -> None:
    """Move every claim's lease into the past, as if it had run out."""
    await pool.execute(
        f"UPDATE {table} SET claimed_until = now() - interval '1 second' WHERE claimed_until IS NOT NULL"
    )


LEASE = timedelta(minutes=5)


class TestClaim:
    async def test_oldest_first_with_claim_recorded(self, db: asyncpg.Pool) -> None:
        """A claim takes the oldest pending messages, up to the limit, and records who and until when."""
        ids = await add_notifications(db, 5)
        got = await outbox.claim(db, "notifications", consumer="sms-1", limit=3, lease=LEASE)
        assert [m.id for m in got] == ids[:3]
        now = datetime.now(UTC)
        for m in got:
            assert m.box == "notifications"
            assert m.state == "claimed"
            assert m.claimed_by == "sms-1"
            assert m.claimed_until is not None
            assert now + LEASE - MINUTE < m.claimed_until <= now + LEASE + MINUTE
            assert m.acked_at is None
            assert m.route == m.recipient == "dept-lighting"
            assert not m.for_duty
            assert m.kind == "receipt_warning"
            assert m.body.startswith("查收期限将至")
            assert m.event_at == T0
            assert m.due == T0 + 8 * 60 * MINUTE
            assert m.payload is None
        rest = await outbox.claim(db, "notifications", consumer="sms-2", limit=10, lease=LEASE)
        assert [m.id for m in rest] == ids[3:]
        assert await outbox.claim(db, "notifications", consumer="sms-3", limit=10, lease=LEASE) == []

    async def test_two_consumers_at_once_never_share_and_take_everything(self, db: asyncpg.Pool) -> None:
        """Many concurrent claims by two consumers over 200 messages: each message goes to exactly one."""
        ids = await add_notifications(db, 200)
        taken: dict[str, list[int]] = {"a": [], "b": []}

        async def drain(consumer: str) -> None:
            while batch := await outbox.claim(db, "notifications", consumer=consumer, limit=3, lease=LEASE):
                taken[consumer].extend(m.id for m in batch)
                assert all(m.claimed_by == consumer for m in batch)

        await asyncio.gather(*(drain(c) for c in ("a", "b") for _ in range(4)))
        everything = taken["a"] + taken["b"]
        assert len(everything) == len(set(everything)) == 200
        assert sorted(everything) == ids
        assert taken["a"]
        assert taken["b"]
        holders = dict(await db.fetch("SELECT id, claimed_by FROM notification_outbox"))
        assert all(holders[i] == "a" for i in taken["a"])
        assert all(holders[i] == "b" for i in taken["b"])

    async def test_unacked_claim_returns_after_its_lease(self, db: asyncpg.Pool) -> None:
        """Not acknowledged within a 1-second lease, a message goes to the next consumer that asks."""
        [mid] = await add_hotline_messages(db, 1)
        [first] = await outbox.claim(db, "hotline", consumer="gw-1", limit=5, lease=timedelta(seconds=1))
        assert first.id == mid
        assert await outbox.claim(db, "hotline", consumer="gw-2", limit=5, lease=LEASE) == []
        await asyncio.sleep(1.2)
        [again] = await outbox.claim(db, "hotline", consumer="gw-2", limit=5, lease=LEASE)
        assert again.id == mid
        assert again.claimed_by == "gw-2"
        late = await outbox.ack(db, "hotline", consumer="gw-1", ids=[mid])
        assert late.acked == []
        assert late.not_yours == {mid: "gw-2"}
        assert (await outbox.ack(db, "hotline", consumer="gw-2", ids=[mid])).acked == [mid]

    async def test_expired_claim_returns_in_order(self, db: asyncpg.Pool) -> None:
        """An expired claim is taken again before newer messages: the queue stays oldest first."""
        ids = await add_notifications(db, 4)
        await outbox.claim(db, "notifications", consumer="a", limit=2, lease=LEASE)
        await expire_leases(db)
        again = await outbox.claim(db, "notifications", consumer="b", limit=10, lease=LEASE)
        assert [m.id for m in again] == ids

    async def test_recipient_filter(self, db: asyncpg.Pool) -> None:
        """An org id takes the org's own and on-duty notifications; duty:ORG only the on-duty ones."""
        own = await add_notifications(db, 2, recipient="district-hexi")
        duty = await add_notifications(db, 2, recipient="district-hexi", duty=True)
        other = await add_notifications(db, 2, recipient="dept-roads")
        got = await outbox.claim(
            db, "notifications", consumer="duty-sms", limit=10, lease=LEASE, recipient="duty:district-hexi"
        )
        assert [m.id for m in got] == duty
        assert all(m.for_duty and m.route == "duty:district-hexi" for m in got)
        assert got[0].duty_contact == "值班员"
        assert got[0].duty_phone == "13900000000"
        assert got[0].duty_break == T0.date()
        got = await outbox.claim(
            db, "notifications", consumer="hexi-desk", limit=10, lease=LEASE, recipient="district-hexi"
        )
        assert [m.id for m in got] == own
        rest = await outbox.claim(db, "notifications", consumer="all", limit=10, lease=LEASE)
        assert [m.id for m in rest] == other

    async def test_hotline_payload(self, db: asyncpg.Pool) -> None:
        """A city-hotline message carries its structured payload and no notification fields."""
        [mid] = await add_hotline_messages(db, 1, order_no="TJ9")
        [m] = await outbox.claim(db, "hotline", consumer="gw", limit=1, lease=LEASE)
        assert m.id == mid
        assert m.box == "hotline"
        assert m.payload == {"order_no": "TJ9", "result": "已修复", "seq": 1}
        assert m.route is None
        assert m.recipient is None

    @pytest.mark.parametrize(
        ("box", "kwargs", "message"),
        [
            ("letters", {}, "unknown box 'letters'"),
            ("notifications", {"limit": 0}, "limit: 0 is not positive"),
            ("notifications", {"lease": timedelta(0)}, "lease: 0:00:00 is not positive"),
            ("notifications", {"consumer": " "}, "consumer: must not be empty"),
            ("hotline", {"recipient": "dept-roads"}, "only notifications have recipients"),
        ],
    )
    async def test_bad_arguments(self, db: asyncpg.Pool, box: str, kwargs: dict[str, object], message: str) -> None:
        """Wrong arguments are refused with a message naming the argument; nothing is claimed."""
        await add_notifications(db, 1)
        args: dict[str, object] = {"consumer": "c", "limit": 1, "lease": LEASE, **kwargs}
        with pytest.raises(ValueError, match=message):
            await outbox.claim(db, box, **args)  # type: ignore[arg-type]
        assert await db.fetchval("SELECT count(*) FROM notification_outbox WHERE claimed_by IS NOT NULL") == 0


class TestAck:
    async def test_acked_messages_never_come_back(self, db: asyncpg.Pool) -> None:
        """Acknowledged messages are not handed out again, even after their lease would have run out."""
        ids = await add_notifications(db, 3)
        got = await outbox.claim(db, "notifications", consumer="a", limit=3, lease=LEASE)
        result = await outbox.ack(db, "notifications", consumer="a", ids=[m.id for m in got])
        assert result.acked == ids
        assert result.ok
        assert result.refusals() == []
        await expire_leases(db)
        assert await outbox.claim(db, "notifications", consumer="b", limit=10, lease=LEASE) == []
        acked = await outbox.list_messages(db, "notifications", state="acked")
        assert [m.id for m in acked] == ids
        assert all(m.acked_at is not None and m.claimed_by == "a" for m in acked)

    async def test_wrong_consumer_is_refused(self, db: asyncpg.Pool) -> None:
        """Another consumer's ack changes nothing and says who holds the message."""
        [mid] = await add_notifications(db, 1)
        await outbox.claim(db, "notifications", consumer="a", limit=1, lease=LEASE)
        result = await outbox.ack(db, "notifications", consumer="b", ids=[mid])
        assert result.acked == []
        assert result.not_yours == {mid: "a"}
        assert not result.ok
        assert result.refusals() == [f"{mid}: claimed by a, not by b"]
        assert await db.fetchval("SELECT acked_at FROM notification_outbox WHERE id = $1", mid) is None
        assert (await outbox.ack(db, "notifications", consumer="a", ids=[mid])).acked == [mid]

    async def test_every_kind_of_refusal_reported(self, db: asyncpg.Pool) -> None:
        """One ack over mixed ids: acked, already acked (by itself: fine; by another: not), unclaimed, unknown."""
        mine, before, others_acked, unclaimed = await add_notifications(db, 4)
        await outbox.claim(db, "notifications", consumer="a", limit=2, lease=LEASE)  # mine, before
        await outbox.ack(db, "notifications", consumer="a", ids=[before])
        await outbox.claim(db, "notifications", consumer="b", limit=1, lease=LEASE)  # others_acked
        await outbox.ack(db, "notifications", consumer="b", ids=[others_acked])
        unknown = unclaimed + 1000
        result = await outbox.ack(
            db, "notifications", consumer="a", ids=[unknown, mine, before, others_acked, unclaimed, mine]
        )
        assert result.acked == [mine]
        assert result.already_acked == {before: "a", others_acked: "b"}
        assert result.not_yours == {unclaimed: None}
        assert result.unknown == [unknown]
        assert not result.ok
        assert result.refusals() == [
            f"{others_acked}: already acknowledged (claimed by b)",
            f"{unclaimed}: not claimed by a; nobody holds it (claim it first)",
            f"{unknown}: no such message",
        ]

    async def test_retried_ack_is_fine(self, db: asyncpg.Pool) -> None:
        """The same consumer acknowledging twice (a retry) is not an error."""
        [mid] = await add_hotline_messages(db, 1)
        await outbox.claim(db, "hotline", consumer="gw", limit=1, lease=LEASE)
        assert (await outbox.ack(db, "hotline", consumer="gw", ids=[mid])).acked == [mid]
        again = await outbox.ack(db, "hotline", consumer="gw", ids=[mid])
        assert again.acked == []
        assert again.already_acked == {mid: "gw"}
        assert again.ok

    async def test_holder_may_ack_after_its_lease_if_nobody_took_it(self, db: asyncpg.Pool) -> None:
        """A lease that ran out with nobody else claiming since: the holder's ack still counts."""
        [mid] = await add_notifications(db, 1)
        await outbox.claim(db, "notifications", consumer="a", limit=1, lease=LEASE)
        await expire_leases(db)
        assert (await outbox.ack(db, "notifications", consumer="a", ids=[mid])).acked == [mid]
        assert await outbox.claim(db, "notifications", consumer="b", limit=1, lease=LEASE) == []


class TestList:
    async def test_states_and_filters(self, db: asyncpg.Pool) -> None:
        """list shows pending, claimed and acked messages, filtered by recipient and order; claims nothing."""
        n1 = await add_notifications(db, 3, order_no="TJ-A")
        n2 = await add_notifications(db, 2, order_no="TJ-B", recipient="district-hexi", duty=True)
        await outbox.claim(db, "notifications", consumer="a", limit=2, lease=LEASE)
        await outbox.ack(db, "notifications", consumer="a", ids=[n1[0]])

        def ids(ms: list[outbox.OutboxMessage]) -> list[int]:
            return [m.id for m in ms]

        assert ids(await outbox.list_messages(db, "notifications", state="acked")) == [n1[0]]
        assert ids(await outbox.list_messages(db, "notifications", state="claimed")) == [n1[1]]
        pending = await outbox.list_messages(db, "notifications", state="pending")
        assert ids(pending) == [n1[2], *n2]
        assert {m.state for m in pending} == {"pending"}
        everything = await outbox.list_messages(db, "notifications")
        assert [m.state for m in everything] == ["acked", "claimed", "pending", "pending", "pending"]
        assert ids(await outbox.list_messages(db, "notifications", order_no="TJ-B")) == n2
        assert ids(await outbox.list_messages(db, "notifications", recipient="duty:district-hexi")) == n2
        assert ids(await outbox.list_messages(db, "notifications", limit=2)) == n1[:2]
        assert await db.fetchval("SELECT count(*) FROM notification_outbox WHERE claimed_by IS NOT NULL") == 2

    async def test_expired_claim_lists_as_pending(self, db: asyncpg.Pool) -> None:
        """A claim whose lease ran out is pending again, with its last holder still shown."""
        [mid] = await add_hotline_messages(db, 1)
        await outbox.claim(db, "hotline", consumer="gw", limit=1, lease=LEASE)
        await expire_leases(db, "hotline_outbox")
        [m] = await outbox.list_messages(db, "hotline", state="pending")
        assert m.id == mid
        assert m.state == "pending"
        assert m.claimed_by == "gw"

    async def test_bad_state(self, db: asyncpg.Pool) -> None:
        """An unknown state is refused, naming the allowed ones."""
        with pytest.raises(ValueError, match="allowed: pending, claimed, acked, all"):
            await outbox.list_messages(db, "hotline", state="lost")  # type: ignore[arg-type]
