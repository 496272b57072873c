"""The periodic duties, run by Temporal Schedules (see `workers.schedules`).

`DailyDuties` (every day 09:00 Asia/Shanghai): training-material reminders on the reminder day,
the record of last month's misses on the first of a month (Article 11), and the holiday on-duty
roster reminders (Articles 4.7, 5.7, 6.7). `MonthlyReport` (the 1st, 09:00): last month's
assessment and bulletin (Articles 4.4, 4.5, 6.5, 13).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.duties import DutyActivities
    from domain.calendar import SHANGHAI
    from domain.contract import DAILY_DUTIES, MONTHLY_REPORT
    from domain.records import DutyDay, DutyOutcome, MonthlyReportRequest, MonthlyReportResult

TIMEOUT = timedelta(minutes=5)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=DAILY_DUTIES)
class DailyDuties:
    """One day's duties; idempotent per period, so a re-run sends nothing twice."""

    @workflow.run
    async def run(self) -> list[DutyOutcome]:
        """Run the day's duties for the schedule's local date."""
        day = DutyDay(day=workflow.now().astimezone(SHANGHAI).date())
        outcomes = []
        for duty in (
            DutyActivities.training_reminders,
            DutyActivities.record_training_missed,
            DutyActivities.roster_reminders,
        ):
            outcome: DutyOutcome = await workflow.execute_activity_method(
                duty, day, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
            )
            outcomes.append(outcome)
        return outcomes


@workflow.defn(name=MONTHLY_REPORT)
class MonthlyReport:
    """Last month's assessment and bulletin, stored for circulation."""

    @workflow.run
    async def run(self) -> MonthlyReportResult:
        """Produce the report of the month before the schedule's local date."""
        today = workflow.now().astimezone(SHANGHAI).date()
        month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        result: MonthlyReportResult = await workflow.execute_activity_method(
            DutyActivities.monthly_report,
            MonthlyReportRequest(month=month),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
        return result
