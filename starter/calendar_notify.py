"""Tell running orders that the business calendar changed (Article 8.1: the calendar a deadline counts on)."""

from __future__ import annotations

from typing import Final

from temporalio.client import Client

from domain.contract import CALENDAR_CHANGED_SIGNAL, WORK_ORDER, Flag, SearchAttribute, visibility_eq

#: Orders still running with a deadline computed on a year the calendar did not know.
UNCONFIRMED_QUERY: Final = f"WorkflowType = '{WORK_ORDER}' AND ExecutionStatus = 'Running' AND " + visibility_eq(
    SearchAttribute.ORDER_FLAGS, Flag.CALENDAR_UNCONFIRMED
)


async def notify_calendar_change(client: Client, *, years: list[int]) -> list[str]:
    """Signal every running order with an unconfirmed deadline; each recomputes what has not passed.

    Returns:
        The workflow ids signalled.
    """
    told = []
    async for wf in client.list_workflows(UNCONFIRMED_QUERY):
        await client.get_workflow_handle(wf.id, run_id=wf.run_id).signal(CALENDAR_CHANGED_SIGNAL, {"years": years})
        told.append(wf.id)
    return told
