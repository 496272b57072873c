"""The project's Temporal Schedules, created by its own start-up, idempotently.

A restart never duplicates them: each has a fixed id; an existing one is updated to the current
definition instead of created again. They show in the Web UI under Schedules.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from domain.contract import DAILY_DUTIES, DAILY_DUTIES_SCHEDULE, MONTHLY_REPORT, MONTHLY_REPORT_SCHEDULE

log = structlog.get_logger(__name__)

TIME_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Duty:
    """One schedule: its id, the workflow it starts, when, and what it is for."""

    schedule_id: str
    workflow: str
    cron: str
    note: str


DUTIES = (
    Duty(
        DAILY_DUTIES_SCHEDULE,
        DAILY_DUTIES,
        "0 9 * * *",
        "training-material reminders and misses (Art. 11); holiday on-duty roster reminders (Art. 4.7)",
    ),
    Duty(
        MONTHLY_REPORT_SCHEDULE,
        MONTHLY_REPORT,
        "0 9 1 * *",
        "last month's assessment and bulletin (Arts. 4.4, 4.5, 6.5, 13)",
    ),
)


def _schedule(duty: Duty, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            duty.workflow,
            id=f"{duty.schedule_id}-run",
            task_queue=task_queue,
            static_summary=duty.note,
        ),
        spec=ScheduleSpec(cron_expressions=[duty.cron], time_zone_name=TIME_ZONE),
    )


async def ensure_schedules(client: Client, *, task_queue: str) -> list[str]:
    """Create the schedules that are missing and bring existing ones to the current definition.

    Returns:
        The schedule ids, created or updated.
    """
    ids = []
    for duty in DUTIES:
        wanted = _schedule(duty, task_queue)
        try:
            await client.create_schedule(duty.schedule_id, wanted)
            log.info("schedule.created", schedule=duty.schedule_id, cron=duty.cron)
        except ScheduleAlreadyRunningError:

            def update(_: ScheduleUpdateInput, wanted: Schedule = wanted) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=wanted)

            await client.get_schedule_handle(duty.schedule_id).update(update)
            log.info("schedule.updated", schedule=duty.schedule_id, cron=duty.cron)
        ids.append(duty.schedule_id)
    return ids
