"""Activities of an order: projection, timeline, outboxes and archive in PostgreSQL; its rulebook and calendar."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.store import calendar_store, rulebooks
from activities.store.orders import archive_order, upsert_order
from activities.store.outbox_writer import RoutingCalendar, write_outbox, write_timeline
from activities.store.tracing import transaction
from domain.errors import RulebookError
from domain.order import SUPERVISOR
from domain.records import CalendarRequest, CalendarYears, OrderRecord, OrderRules, OrderRulesRequest

log = structlog.get_logger(__name__)


class OrderActivities:
    """Side effects of `WorkOrder`, bound to one asyncpg pool per worker process."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Hold the worker's pool."""
        self._pool = pool
        self._calendar = RoutingCalendar(pool)

    @activity.defn(name="load_calendar_years")
    async def load_calendar_years(self, request: CalendarRequest) -> CalendarYears:
        """The current version of each asked-for year that the database knows (Article 8.1)."""
        return CalendarYears(years=await calendar_store.load_years(self._pool, request.years))

    @activity.defn(name="load_order_rules")
    async def load_order_rules(self, request: OrderRulesRequest) -> OrderRules:
        """The rulebook version in force at the order's transfer, from PostgreSQL, and its calendar years.

        The workflow keeps the answer in its history, so the order keeps this version for life
        and a version imported later changes orders started after it only. A database that holds
        no version yet gets the package's first (as the worker's start would have stored them).

        Raises:
            ApplicationError: non-retryable, type ``RulebookError``, when no version is in force
                at ``request.at`` (it lies before the first one): the order cannot start.
        """
        try:
            rulebook = await rulebooks.in_force(self._pool, request.at)
        except RulebookError as err:
            seeded = await rulebooks.seed_from_package(self._pool)
            if not seeded.seeded:
                raise ApplicationError(str(err), type="RulebookError", non_retryable=True) from None
            log.info("reference.rulebooks_seeded", versions_added=seeded.seeded)
            try:
                rulebook = await rulebooks.in_force(self._pool, request.at)
            except RulebookError as again:
                raise ApplicationError(str(again), type="RulebookError", non_retryable=True) from None
        years = await calendar_store.load_years(self._pool, request.years)
        log.debug("order.rules_bound", rulebook=rulebook.id, at=request.at.isoformat())
        return OrderRules(rulebook=rulebook, years=years)

    @activity.defn(name="record_order")
    async def record_order(self, record: OrderRecord) -> None:
        """Write the order's projection, new timeline entries and outbox items; archive at close.

        One transaction. A retry, or a record older than the one stored (by `revision`), writes
        nothing new: the projection only moves forward and every row has a natural key.
        """
        log_ = log.bind(order_no=record.order.order_no, run_id=record.run_id, revision=record.revision)
        calendar = await self._calendar.get() if record.outbox else None
        async with transaction(
            self._pool, "record_order transaction", order_no=record.order.order_no, revision=record.revision
        ) as conn:
            await upsert_order(conn, record)
            await write_timeline(
                conn, table="order_timeline", run_id=record.run_id, number=record.order.order_no, entries=record.entries
            )
            await write_outbox(
                conn,
                run_id=record.run_id,
                order_no=record.order.order_no,
                items=record.outbox,
                calendar=calendar,
                fallback_org=SUPERVISOR[record.status.platform],
            )
            if record.archive:
                await archive_order(conn, record)
        log_.info(
            "order.recorded",
            phase=record.status.phase.value,
            entries=len(record.entries),
            outbox=len(record.outbox),
            archived=record.archive,
        )
