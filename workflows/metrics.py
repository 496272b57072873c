"""The business's metrics, as the workflows see them happen: orders started and closed, actions
accepted and refused, warnings, escalations and missed deadlines.

Every function here is called from the workflow shell (`workflows.shell`) at the moment the thing
happens and records through `temporalio.workflow.metric_meter`, which records nothing while a
workflow replays: a worker that rebuilds an order from its history (after a restart, an eviction
from its cache, another worker's crash) does not count it again. The meter is the worker's runtime
meter, so the counters reach Prometheus with the SDK's own metrics (`starter.telemetry`), each
labelled with ``namespace``, ``task_queue`` and ``workflow_type`` (``WorkOrder`` or
``DoubtfulOrder``). With no metrics endpoint the meter does nothing.

Counters (Prometheus names):

- ``hotline_orders_started_total``: a machine started (not a continued run);
- ``hotline_orders_closed_total{outcome}``: a machine closed, by its outcome (a doubtful order: its
  final phase);
- ``hotline_actions_accepted_total{action,via}`` and ``hotline_actions_refused_total{action,via,kind}``:
  every action taken or refused, ``via`` ``update`` or ``signal``, ``kind`` the refusal's kind
  (`domain.errors.RefusalKind`, the ``ApplicationError`` type an update fails with);
- ``hotline_deadline_warnings_total{deadline}``: a deadline's warning fired (the dispatch reminder
  included), ``deadline`` its kind (``receipt``, ``completion``, ``return``, ``reply``, …);
- ``hotline_escalations_total{deadline}``: a deadline's end escalated to the supervising level
  (an overdue deadline, the dispatch escalation, an unanswered appeal);
- ``hotline_deadlines_missed_total{deadline}``: a deadline whose lateness counts passed unmet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Protocol

from temporalio import workflow

#: Timeline kinds that are a warning of a deadline that is not named ``<kind>_warning``.
_WARNINGS: Final = {"dispatch_reminder": "dispatch"}
#: Timeline kinds that escalate and are not named ``<kind>_overdue``.
_ESCALATIONS: Final = {"dispatch_escalation": "dispatch", "appeal_unanswered": "appeal_wait"}


class _Entry(Protocol):
    @property
    def kind(self) -> str: ...


def _add(name: str, description: str, attributes: dict[str, str | int | float | bool]) -> None:
    workflow.metric_meter().create_counter(name, description).add(1, attributes)


def started() -> None:
    """A machine started from its input (a run continuing an earlier one is no new order)."""
    _add("hotline_orders_started_total", "orders (and doubtful orders) started", {})


def closed(machine: Any) -> None:
    """A machine closed: by its outcome, or its final phase when it has none."""
    outcome = getattr(machine, "outcome", None) or getattr(machine, "phase", None)
    label = str(getattr(outcome, "value", outcome) or "closed")
    _add("hotline_orders_closed_total", "orders (and doubtful orders) closed, by outcome", {"outcome": label})


def accepted(action: str, via: str) -> None:
    """An action was taken (``via`` ``update`` or ``signal``)."""
    _add("hotline_actions_accepted_total", "actions taken", {"action": action, "via": via})


def refused(action: str, via: str, kind: str) -> None:
    """An action was refused, with its refusal kind."""
    _add("hotline_actions_refused_total", "actions refused, by kind", {"action": action, "via": via, "kind": kind})


def timeline(entries: Iterable[_Entry]) -> None:
    """New timeline entries, as they are recorded: the warnings, escalations and missed deadlines among them."""
    for entry in entries:
        kind = entry.kind
        if kind in _WARNINGS or kind.endswith("_warning"):
            deadline = _WARNINGS.get(kind) or kind.removesuffix("_warning")
            _add("hotline_deadline_warnings_total", "deadline warnings fired", {"deadline": deadline})
        elif kind in _ESCALATIONS:
            _add("hotline_escalations_total", "escalations fired", {"deadline": _ESCALATIONS[kind]})
        elif kind.endswith("_overdue"):
            deadline = kind.removesuffix("_overdue")
            _add("hotline_escalations_total", "escalations fired", {"deadline": deadline})
            _add("hotline_deadlines_missed_total", "deadlines missed (their lateness counts)", {"deadline": deadline})
