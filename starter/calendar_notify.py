"""Tell running orders that the business calendar changed (rulebook.md, "Working time")."""

from __future__ import annotations

from temporalio.client import Client

#: Orders still running with a deadline computed on a year the calendar did not know.
UNCONFIRMED_QUERY = "WorkflowType = 'WorkOrder' AND ExecutionStatus = 'Running' AND OrderFlags = 'calendar_unconfirmed'"

CALENDAR_CHANGED = "calendar_changed"


async def notify_calendar_change(client: Client, *, years: list[int]) -> list[str]:
    """Signal every running order with an unconfirmed deadline; each recomputes what has not passed.

    Returns:
        The workflow ids signalled.
    """
    told = []
    async for wf in client.list_workflows(UNCONFIRMED_QUERY):
        await client.get_workflow_handle(wf.id, run_id=wf.run_id).signal(CALENDAR_CHANGED, {"years": years})
        told.append(wf.id)
    return told
