"""The worker process: one client, one pool, the workflows and activities of the task queue."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.duties import DutyActivities
from activities.inquiries import InquiryActivities
from activities.orders import OrderActivities
from activities.store import rulebooks
from activities.store.db import apply_migrations, create_pool
from starter import connection
from starter.calendar_notify import notify_calendar_change
from starter.codec import KeyRing, KeyRingError, load_keyring
from starter.settings import Settings
from workers.schedules import ensure_schedules
from workflows.doubtful_order import DoubtfulOrder
from workflows.duties import DailyDuties, MonthlyReport
from workflows.work_order import WorkOrder

log = structlog.get_logger(__name__)

WORKFLOWS: Sequence[type] = (WorkOrder, DoubtfulOrder, DailyDuties, MonthlyReport)


async def connect(settings: Settings, *, keyring: KeyRing | None = None) -> Client:
    """A client with the project's data converter (payloads encrypted; `starter.connection.connect`)."""
    return await connection.connect(settings, keyring=keyring)


def build_worker(client: Client, pool: asyncpg.Pool, *, task_queue: str) -> Worker:
    """The worker for ``task_queue`` with every workflow and activity of the project."""
    orders = OrderActivities(pool)
    duties = DutyActivities(pool)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            orders.record_order,
            orders.load_order_rules,
            orders.load_calendar_years,
            InquiryActivities(pool).record_inquiry,
            duties.training_reminders,
            duties.record_training_missed,
            duties.roster_reminders,
            duties.monthly_report,
        ],
        graceful_shutdown_timeout=timedelta(seconds=5),
    )


async def seed_rulebooks(conn: asyncpg.Connection) -> None:
    """Store the package's rulebook versions the database lacks; say which were skipped and why."""
    result = await rulebooks.seed_from_package(conn)
    log.info("reference.rulebooks_seeded", versions_added=result.seeded)
    for book_id, reason in result.skipped.items():
        log.warning("reference.rulebook_not_seeded", rulebook=book_id, reason=reason)


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None, keyring: KeyRing | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM arrives), then shut down gracefully.

    ``keyring`` defaults to `load_keyring(settings)`; without usable keys the worker does not start
    (a one-line exit naming the fault).
    """
    if keyring is None:
        try:
            keyring = load_keyring(settings)
        except KeyRingError as err:
            raise SystemExit(f"hotline worker: {err}") from None
    stop = stop or _stop_on_signals()
    pool = await create_pool(settings.database_url)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
            await seed_rulebooks(conn)  # an order binds its rulebook from the database at start
        client = await connect(settings, keyring=keyring)
        worker = build_worker(client, pool, task_queue=settings.task_queue)
        log.info(
            "worker.started",
            task_queue=settings.task_queue,
            temporal=settings.temporal_address,
            codec_key=keyring.newest,
        )
        async with worker:
            await _recheck_unconfirmed(client)
            await ensure_schedules(client, task_queue=settings.task_queue)
            await stop.wait()
            log.info("worker.stopping")
        log.info("worker.stopped")
    finally:
        await pool.close()


async def _recheck_unconfirmed(client: Client) -> None:
    """Tell running orders with unconfirmed deadlines to look at the calendar again.

    `hotline calendar import` tells them itself; this catches an import made while Temporal was
    down. An order whose calendar did not change recomputes nothing.
    """
    try:
        told = await notify_calendar_change(client, years=[])
    except Exception:  # visibility may lag or be unavailable; never keep the worker from running
        log.warning("worker.recheck_failed", exc_info=True)
        return
    if told:
        log.info("worker.recheck_unconfirmed", orders=len(told))


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
