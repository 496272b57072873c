"""Consumers of the two outboxes: notifications to orgs, and messages to the city hotline.

`record_order` writes every outbox row once; the consumers here (the SMS gateway, the desks, the
city hotline's integration) take them out. Several consumers may run at once: `claim` hands each
message to one of them for a lease, `ack` marks it delivered, and a claim that is never
acknowledged comes back to the queue when its lease runs out. Delivery is therefore at least once:
a consumer that crashes after sending but before acknowledging sends again, so a message's
``(box, id)`` (or ``run_id``/``seq``) is the key a consumer dedups on.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, get_args

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

Box = Literal["notifications", "hotline"]
State = Literal["pending", "claimed", "acked", "all"]

#: The table behind each box (never taken from user input).
_TABLES: Final[dict[str, str]] = {"notifications": "notification_outbox", "hotline": "hotline_outbox"}

#: Route prefix of a notification meant for an org's on-duty contact during a holiday break.
DUTY_ROUTE_PREFIX: Final = "duty:"

_STATE_SQL: Final = """CASE
        WHEN acked_at IS NOT NULL THEN 'acked'
        WHEN claimed_until IS NOT NULL AND claimed_until >= now() THEN 'claimed'
        ELSE 'pending' END AS state"""

_STATE_WHERE: Final[dict[str, str]] = {
    "pending": "acked_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())",
    "claimed": "acked_at IS NULL AND claimed_until >= now()",
    "acked": "acked_at IS NOT NULL",
    "all": "TRUE",
}


class OutboxMessage(BaseModel):
    """One outbox row as a consumer sees it."""

    model_config = ConfigDict(frozen=True)

    box: Box = Field(description="`notifications` or `hotline`.")
    id: int = Field(description="The message's id in its box; what `ack` takes.")
    run_id: str = Field(description="The order run that wrote it.")
    seq: int = Field(description="Its position in the order run's outbox.")
    order_no: str
    kind: str = Field(description="e.g. `receipt_warning`, `dispatch`, `reply`, `extension_application`.")
    body: str = Field(description="Words for the recipient; never the reporter's name or phone.")
    event_at: datetime = Field(description="When it happened in the order.")
    created_at: datetime = Field(description="When it was written to the outbox.")
    state: Literal["pending", "claimed", "acked"] = Field(
        description="`pending` (free to claim, including a claim whose lease ran out), `claimed`, `acked`."
    )
    claimed_by: str | None = Field(default=None, description="The consumer that claimed it last.")
    claimed_until: datetime | None = Field(default=None, description="When the last claim's lease ends.")
    acked_at: datetime | None = None
    route: str | None = Field(
        default=None,
        description="Notifications: the recipient org, or `duty:<org>` for that org's on-duty contact.",
    )
    recipient: str | None = Field(default=None, description="Notifications: the recipient org id.")
    due: datetime | None = Field(default=None, description="Notifications: the deadline it is about.")
    duty_break: date | None = Field(
        default=None, description="On-duty notifications: the first day of the holiday break."
    )
    duty_contact: str | None = Field(default=None, description="On-duty notifications: whom to reach.")
    duty_phone: str | None = Field(default=None, description="On-duty notifications: their phone.")
    payload: dict[str, Any] | None = Field(default=None, description="City-hotline messages: the structured message.")

    @property
    def for_duty(self) -> bool:
        """Whether this notification goes to an on-duty contact (Art. 4.7) rather than the org."""
        return self.route is not None and self.route.startswith(DUTY_ROUTE_PREFIX)


class AckResult(BaseModel):
    """What an `ack` did with each id it was given; refusals are data, not exceptions."""

    model_config = ConfigDict(frozen=True)

    consumer: str
    acked: list[int] = Field(default_factory=list, description="Acknowledged by this call.")
    already_acked: dict[int, str | None] = Field(
        default_factory=dict, description="Acknowledged before: id -> the consumer that had claimed it."
    )
    not_yours: dict[int, str | None] = Field(
        default_factory=dict,
        description="Not acknowledged, not claimed by this consumer: id -> its holder (None: unclaimed).",
    )
    unknown: list[int] = Field(default_factory=list, description="No such message in the box.")

    @property
    def ok(self) -> bool:
        """Every id is acknowledged now, or was before by this same consumer (a retried ack)."""
        return (
            not self.not_yours and not self.unknown and all(by == self.consumer for by in self.already_acked.values())
        )

    def refusals(self) -> list[str]:
        """One line per id that this consumer could not acknowledge, saying why, in id order."""
        reasons: dict[int, str] = {}
        for i, holder in self.not_yours.items():
            reasons[i] = (
                f"{i}: not claimed by {self.consumer}; nobody holds it (claim it first)"
                if holder is None
                else f"{i}: claimed by {holder}, not by {self.consumer}"
            )
        for i, by in self.already_acked.items():
            if by != self.consumer:
                reasons[i] = f"{i}: already acknowledged (claimed by {by})"
        for i in self.unknown:
            reasons[i] = f"{i}: no such message"
        return [reasons[i] for i in sorted(reasons)]


def _table(box: str) -> str:
    try:
        return _TABLES[box]
    except KeyError:
        raise ValueError(f"unknown box {box!r}; allowed: {', '.join(get_args(Box))}") from None


def _message(box: Box, row: Any) -> OutboxMessage:
    data = dict(row)
    payload = data.get("payload")
    if isinstance(payload, str):  # a pool without the jsonb codec of `activities.store.db.create_pool`
        data["payload"] = json.loads(payload)
    return OutboxMessage(box=box, **data)


async def claim(
    pool: asyncpg.Pool,
    box: Box,
    *,
    consumer: str,
    limit: int,
    lease: timedelta,
    recipient: str | None = None,
) -> list[OutboxMessage]:
    """Claim up to ``limit`` unacknowledged messages for ``consumer`` for ``lease``, oldest first.

    One statement: rows locked by a concurrent claim are skipped (``FOR UPDATE SKIP LOCKED``), so
    consumers running at once never get the same message. A message claimed and not acknowledged
    within its lease becomes claimable again, by any consumer.

    Args:
        pool: The database.
        box: ``notifications`` or ``hotline``.
        consumer: The consumer's name, recorded as ``claimed_by``; `ack` must give the same.
        limit: At most this many messages (1 or more).
        lease: How long the claim holds (more than zero).
        recipient: Notifications only: an org id takes that org's messages, both its own and its
            on-duty copies; ``duty:<org>`` takes only the on-duty copies.

    Returns:
        The claimed messages, in id order; empty when nothing is pending.

    Raises:
        ValueError: an unknown box, an empty consumer, a non-positive limit or lease, or a
            recipient for the hotline box.
    """
    table = _table(box)
    if not consumer.strip():
        raise ValueError("consumer: must not be empty")
    if limit < 1:
        raise ValueError(f"limit: {limit} is not positive")
    if lease <= timedelta(0):
        raise ValueError(f"lease: {lease} is not positive")
    if recipient is not None and box != "notifications":
        raise ValueError("recipient: only notifications have recipients")
    where = _STATE_WHERE["pending"]
    if recipient is not None:
        where += " AND (recipient = $4 OR route = $4)"
    sql = f"""
        WITH picked AS (
            SELECT id FROM {table}
            WHERE {where}
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {table} AS o
        SET claimed_by = $2, claimed_until = now() + $3::interval
        FROM picked
        WHERE o.id = picked.id
        RETURNING o.*, 'claimed' AS state
    """
    args: list[Any] = [limit, consumer, lease]
    if recipient is not None:
        args.append(recipient)
    async with pool.acquire() as conn:
        rows = await conn.fetch(sql, *args)
    return sorted((_message(box, r) for r in rows), key=lambda m: m.id)


async def ack(pool: asyncpg.Pool, box: Box, *, consumer: str, ids: list[int]) -> AckResult:
    """Acknowledge messages that ``consumer`` claimed; they are never handed out again.

    Only a message whose last claim is this consumer's and that is not acknowledged yet is
    acknowledged. That includes a claim whose lease has run out but which nobody else has taken
    since: the message was delivered and nobody else holds it, so acknowledging it spares a
    duplicate. Every other id is reported in the result with the reason.

    Args:
        pool: The database.
        box: ``notifications`` or ``hotline``.
        consumer: The name the messages were claimed under.
        ids: Message ids from `claim` (duplicates are taken once).

    Returns:
        Which ids were acknowledged now, and why each other one was not.

    Raises:
        ValueError: an unknown box.
    """
    table = _table(box)
    wanted = sorted(set(ids))
    async with pool.acquire() as conn, conn.transaction():
        acked = await conn.fetch(
            f"""UPDATE {table} SET acked_at = now()
                WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND acked_at IS NULL
                RETURNING id""",
            wanted,
            consumer,
        )
        done = {r["id"] for r in acked}
        rest = [i for i in wanted if i not in done]
        others = await conn.fetch(f"SELECT id, claimed_by, acked_at FROM {table} WHERE id = ANY($1::bigint[])", rest)
    found = {r["id"]: r for r in others}
    return AckResult(
        consumer=consumer,
        acked=sorted(done),
        already_acked={i: r["claimed_by"] for i, r in found.items() if r["acked_at"] is not None},
        not_yours={i: r["claimed_by"] for i, r in found.items() if r["acked_at"] is None},
        unknown=[i for i in rest if i not in found],
    )


async def list_messages(
    pool: asyncpg.Pool,
    box: Box,
    *,
    state: State = "all",
    recipient: str | None = None,
    order_no: str | None = None,
    limit: int = 100,
) -> list[OutboxMessage]:
    """Messages of a box for a person to look at, oldest first; claims nothing.

    Args:
        pool: The database.
        box: ``notifications`` or ``hotline``.
        state: ``pending`` (claimable now, including expired claims), ``claimed`` (under a live
            lease), ``acked``, or ``all``.
        recipient: Notifications only: as in `claim`.
        order_no: Only this order's messages.
        limit: At most this many (1 or more).

    Raises:
        ValueError: an unknown box or state, a non-positive limit, or a recipient for the
            hotline box.
    """
    table = _table(box)
    if state not in _STATE_WHERE:
        raise ValueError(f"unknown state {state!r}; allowed: {', '.join(get_args(State))}")
    if limit < 1:
        raise ValueError(f"limit: {limit} is not positive")
    if recipient is not None and box != "notifications":
        raise ValueError("recipient: only notifications have recipients")
    conditions = [_STATE_WHERE[state]]
    args: list[Any] = [limit]
    if recipient is not None:
        args.append(recipient)
        conditions.append(f"(recipient = ${len(args)} OR route = ${len(args)})")
    if order_no is not None:
        args.append(order_no)
        conditions.append(f"order_no = ${len(args)}")
    sql = f"""SELECT *, {_STATE_SQL} FROM {table}
              WHERE {" AND ".join(conditions)}
              ORDER BY id LIMIT $1"""
    async with pool.acquire() as conn:
        rows = await conn.fetch(sql, *args)
    return [_message(box, r) for r in rows]


class Backlog(BaseModel):
    """What waits in one box: messages not yet acknowledged, and how long the oldest has waited."""

    model_config = ConfigDict(frozen=True)

    box: Box
    pending: int = Field(description="Messages not acknowledged (claimable now or under a lease).")
    claimed: int = Field(description="Of those, under a live lease.")
    oldest_seconds: float = Field(description="Age of the oldest unacknowledged message (0 when none).")


async def backlog(pool: asyncpg.Pool) -> list[Backlog]:
    """Each box's backlog, read in one statement per box (the partial indexes of pending rows)."""
    out: list[Backlog] = []
    async with pool.acquire() as conn:
        for box in get_args(Box):
            row = await conn.fetchrow(
                f"""SELECT count(*) AS pending,
                           count(*) FILTER (WHERE claimed_until >= now()) AS claimed,
                           coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest
                    FROM {_table(box)} WHERE acked_at IS NULL"""
            )
            out.append(Backlog(box=box, pending=row["pending"], claimed=row["claimed"], oldest_seconds=row["oldest"]))
    return out
