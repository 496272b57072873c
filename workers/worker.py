"""The worker process: one client, one pool, the workflows and activities of the task queue."""

from __future__ import annotations

import asyncio
import os
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


def build_worker(client: Client, pool: asyncpg.Pool, *, task_queue: str, settings: Settings | None = None) -> Worker:
    """The worker for ``task_queue`` with every workflow and activity of the project.

    Its tuning (cached workflows, concurrent workflow tasks and activities) comes from ``settings``,
    by default the defaults of `starter.settings.SETTINGS_DOC` (`docs/performance.md` says why).
    """
    tuning = settings if settings is not None else Settings.from_env({})
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
        max_cached_workflows=tuning.max_cached_workflows,
        max_concurrent_workflow_tasks=max(2, tuning.max_concurrent_workflow_tasks),
        max_concurrent_activities=tuning.max_concurrent_activities,
    )


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
    pool = await create_pool(settings.database_url, max_size=settings.db_pool_size)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
        client = await connect(settings, keyring=keyring)
        worker = build_worker(client, pool, task_queue=settings.task_queue, settings=settings)
        log.info(
            "worker.started",
            pid=os.getpid(),
            task_queue=settings.task_queue,
            temporal=settings.temporal_address,
            codec_key=keyring.newest,
            max_cached_workflows=settings.max_cached_workflows,
            max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
            max_concurrent_activities=settings.max_concurrent_activities,
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
