"""The worker process: one client, one pool, the workflows and activities of the task queue.

Around them: the metrics endpoint and the outbox gauges when ``HOTLINE_METRICS_PORT`` is set,
traces when ``HOTLINE_OTLP_ENDPOINT`` is (`starter.telemetry`), and the Worker Deployment version
when ``HOTLINE_BUILD_ID`` is (`deployment_config`).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.runtime import Runtime
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.duties import DutyActivities
from activities.inquiries import InquiryActivities
from activities.orders import OrderActivities
from activities.store import rulebooks
from activities.store.db import apply_migrations, create_pool
from starter import connection, telemetry
from starter.calendar_notify import notify_calendar_change
from starter.codec import KeyRing, KeyRingError, load_keyring
from starter.errors import TemporalConfigError, TemporalConnectError
from starter.settings import Settings
from workers.metrics import watch_outboxes
from workers.schedules import ensure_schedules
from workflows.doubtful_order import DoubtfulOrder
from workflows.duties import DailyDuties, MonthlyReport
from workflows.work_order import WorkOrder

log = structlog.get_logger(__name__)

WORKFLOWS: Sequence[type] = (WorkOrder, DoubtfulOrder, DailyDuties, MonthlyReport)


class WorkerStartError(RuntimeError):
    """Temporal refused the worker or does not answer; the message is one line naming the setting."""


_BEHAVIORS = {"auto_upgrade": VersioningBehavior.AUTO_UPGRADE, "pinned": VersioningBehavior.PINNED}


async def connect(settings: Settings, *, keyring: KeyRing | None = None, runtime: Runtime | None = None) -> Client:
    """A client with the project's data converter (payloads encrypted; `starter.connection.connect`)."""
    return await connection.connect(settings, keyring=keyring, runtime=runtime)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The Worker Deployment version of this release, or None for an unversioned worker.

    ``HOTLINE_BUILD_ID`` set: the worker polls as version ``<HOTLINE_DEPLOYMENT_NAME>.<build id>``,
    and the workflows it starts default to ``HOTLINE_VERSIONING_BEHAVIOR`` (docs/operations.md).

    Raises:
        SystemExit: a deployment name with a dot (the version's separator), one line.
    """
    build_id = settings.build_id.strip()
    if not build_id:
        return None
    name = settings.deployment_name.strip()
    if not name or "." in name:
        raise SystemExit(f"hotline worker: HOTLINE_DEPLOYMENT_NAME={name!r} must be a non-empty name without '.'")
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=name, build_id=build_id),
        use_worker_versioning=True,
        default_versioning_behavior=_BEHAVIORS[settings.versioning_behavior],
    )


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    *,
    task_queue: str,
    deployment: WorkerDeploymentConfig | None = None,
    settings: Settings | None = None,
) -> Worker:
    """The worker for ``task_queue`` with every workflow and activity of the project (as
    ``deployment``'s version when given).

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
        deployment_config=deployment,
        max_cached_workflows=tuning.max_cached_workflows,
        max_concurrent_workflow_tasks=max(2, tuning.max_concurrent_workflow_tasks),
        max_concurrent_activities=tuning.max_concurrent_activities,
    )


async def seed_rulebooks(conn: asyncpg.Connection) -> None:
    """Store the package's rulebook versions the database lacks; say which were skipped and why."""
    result = await rulebooks.seed_from_package(conn)
    if result.seeded:
        log.info("reference.rulebooks_seeded", versions_added=result.seeded)
    for book_id, reason in result.skipped.items():
        log.warning("reference.rulebook_not_seeded", rulebook=book_id, reason=reason)


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None, keyring: KeyRing | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM arrives), then shut down gracefully.

    ``keyring`` defaults to `load_keyring(settings)`. Without usable keys, with a Temporal
    configuration it cannot use (a certificate file, a profile) or a metrics port it cannot bind,
    the worker does not start: `SystemExit` with one line naming the setting.

    Raises:
        WorkerStartError: Temporal refused the connection (the TLS handshake, the API key) or does
            not answer; one line naming the setting to look at.
    """
    if keyring is None:
        try:
            keyring = load_keyring(settings)
        except KeyRingError as err:
            raise SystemExit(f"hotline worker: {err}") from None
    deployment = deployment_config(settings)
    try:  # a Temporal configuration it cannot use stops it before it touches the database
        connection.resolve(settings)
    except TemporalConfigError as err:
        raise SystemExit(f"hotline worker: {err}") from None
    try:
        runtime = telemetry.runtime(settings)
        telemetry.enable_tracing(settings, "hotline-worker")
    except telemetry.TelemetryError as err:
        raise SystemExit(f"hotline worker: {err}") from None
    stop = stop or _stop_on_signals()
    pool = await create_pool(settings.database_url, max_size=settings.db_pool_size)
    gauges: asyncio.Task[None] | None = None
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
            await seed_rulebooks(conn)  # an order binds its rulebook from the database at start
        try:
            client = await connect(settings, keyring=keyring, runtime=runtime)
        except TemporalConfigError as err:
            raise SystemExit(f"hotline worker: {err}") from None
        except TemporalConnectError as err:
            raise WorkerStartError(f"hotline worker: {err}") from None
        worker = build_worker(client, pool, task_queue=settings.task_queue, deployment=deployment, settings=settings)
        log.info(
            "worker.started",
            pid=os.getpid(),
            task_queue=settings.task_queue,
            temporal=connection.resolve(settings).describe(),
            codec_key=keyring.newest,
            metrics=telemetry.metrics_url(settings),
            tracing=telemetry.tracing_enabled(),
            version=deployment.version.to_canonical_string() if deployment else None,
            max_cached_workflows=settings.max_cached_workflows,
            max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
            max_concurrent_activities=settings.max_concurrent_activities,
        )
        if settings.metrics_port is not None:
            gauges = asyncio.create_task(watch_outboxes(pool, runtime.metric_meter, stop), name="outbox-gauges")
        async with worker:
            await _recheck_unconfirmed(client)
            await ensure_schedules(client, task_queue=settings.task_queue)
            await stop.wait()
            log.info("worker.stopping")
        log.info("worker.stopped")
    finally:
        if gauges is not None:
            stop.set()
            await gauges
        await asyncio.to_thread(telemetry.flush_traces)
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
