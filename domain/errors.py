"""The domain's errors: each says what was wrong and what is allowed; a refusal also says its kind."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class RefusalKind(StrEnum):
    """Why an action (or a query) was refused, as a word a program can act on.

    At the Temporal edge the kind is the ``type`` of the `ApplicationError` (an update's failure, a
    query's failure); the client library keeps it on `ActionRefused.kind` and the gateway maps it to
    an HTTP status without reading the words.
    """

    #: The payload breaks the schema: a wrong type, a missing or unknown field, an unknown org, a
    #: naive datetime, an unknown action.
    INVALID_PAYLOAD = "invalid_payload"
    #: A reported instant (a contact, a phone call) lies outside what can be true.
    INVALID_INSTANT = "invalid_instant"
    #: The actor's org or role may not take this action on this order.
    NO_STANDING = "no_standing"
    #: The action is not allowed in the order's current phase.
    WRONG_PHASE = "wrong_phase"
    #: The action's window closed (the instant is in the message).
    WINDOW_CLOSED = "window_closed"
    #: Something must happen first (a contact, the assisting units' contributions, a pending request).
    PRECONDITION = "precondition"
    #: The `request_id` was already used for another action.
    DUPLICATE_REQUEST = "duplicate_request"
    #: The order (or doubtful order) is closed: nothing may change it.
    CLOSED = "closed"
    #: The order itself was refused at start; it takes no actions.
    ORDER_REFUSED = "order_refused"


#: Every refusal kind's word: the `ApplicationError` types that mean "refused, nothing changed".
REFUSAL_TYPES: Final = frozenset(k.value for k in RefusalKind)


class DomainError(Exception):
    """Base of every error the rules raise."""


class InvalidOrder(DomainError):
    """A `NewOrder` (or another payload) breaks a rule of the contract."""


class Rejected(DomainError):
    """An action is refused by the rules; nothing changed.

    Args:
        message: What was refused, why, and what is allowed.
        kind: The refusal's kind.
    """

    def __init__(self, message: str, kind: RefusalKind) -> None:
        super().__init__(message)
        self.kind = kind


class CalendarError(DomainError):
    """A calendar file or calendar data is inconsistent."""


class InvalidInstant(DomainError):
    """An instant cannot be used: naive (no offset) or outside the supported range."""


class RulebookError(DomainError):
    """No rulebook version fits: unknown id, an instant before the first version, a bad file."""


#: The `type` of the ApplicationError that fails a workflow whose input was refused at start.
INVALID_ORDER = "InvalidOrder"
