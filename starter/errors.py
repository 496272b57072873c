"""What the client library raises besides a status: light to import (no Temporal), for the CLI.

Every refusal of the engine is an `ActionRefused` with its `RefusalKind`; the other three say that
Temporal could not be used, that an order is running already, or that no such order exists.
"""

from __future__ import annotations

from typing import Final

from temporalio.service import RPCError, RPCStatusCode

from domain.contract import order_workflow_id
from domain.errors import REFUSAL_TYPES, RefusalKind

#: `ApplicationError` types from before every refusal carried its kind, and the kind each means.
_LEGACY_TYPES: Final[dict[str, RefusalKind]] = {
    "Rejected": RefusalKind.PRECONDITION,
    "InvalidOrder": RefusalKind.ORDER_REFUSED,
}

#: The kind of a refusal whose type names no kind (a query's failure, whose type Temporal does not
#: pass on; an older worker): "the order refused it now", which is what the words then say.
FALLBACK_KIND: Final = RefusalKind.PRECONDITION


def refusal_kind(error_type: str | None) -> RefusalKind:
    """The kind of a refusal from its `ApplicationError` type (`FALLBACK_KIND` when it names none)."""
    if error_type in REFUSAL_TYPES:
        return RefusalKind(error_type)
    return _LEGACY_TYPES.get(error_type or "", FALLBACK_KIND)


def busy(err: RPCError) -> bool:
    """Temporal turned the call away because it is busy: too many requests at once, e.g. more than
    its 10 updates in flight at one order (`limit.workflowExecution.maxInFlightUpdates`)."""
    return err.status == RPCStatusCode.RESOURCE_EXHAUSTED


def dropped(err: RPCError) -> bool:
    """Temporal aborted an update before the order saw it (its state reloaded, say)."""
    return "update was aborted" in str(err)


def turned_away(err: RPCError) -> bool:
    """The order never saw the call and nothing was changed: a client should send it again."""
    return busy(err) or dropped(err)


class TemporalUnreachable(Exception):
    """The Temporal front end does not answer at the configured address, or no payload key can be used."""


class TemporalConnectError(TemporalUnreachable):
    """Temporal cannot be used as configured; the message is one line naming the setting at fault.

    A certificate file that cannot be read, a refused TLS handshake, a refused API key, an address
    where nothing answers (`starter.connection`).
    """


class TemporalConfigError(TemporalConnectError):
    """Temporal's configuration itself is wrong (a profile, a certificate file): nothing was sent."""


class OrderAlreadyRunning(Exception):
    """An order with this number is running; a second start changes nothing."""


class OrderNotFound(Exception):
    """No workflow exists for this order number.

    Args:
        order_no: The order number asked for.
    """

    def __init__(self, order_no: str) -> None:
        super().__init__(f"order {order_no} not found (no workflow {order_workflow_id(order_no)})")
        self.order_no = order_no


class ActionRefused(Exception):
    """The engine refused an action or a query; nothing changed.

    Args:
        message: The workflow's words, naming the rule and what is allowed.
        kind: Why, as a word a program acts on (the gateway's status code comes from it).
    """

    def __init__(self, message: str, kind: RefusalKind = FALLBACK_KIND) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
