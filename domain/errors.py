"""The domain's errors: each says what was wrong and what is allowed."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the rules raise."""


class InvalidOrder(DomainError):
    """A `NewOrder` (or another payload) breaks a rule of the contract."""


class Rejected(DomainError):
    """An action is refused by the rules: wrong phase, no standing, closed window."""


class CalendarError(DomainError):
    """A calendar file or calendar data is inconsistent."""


class InvalidInstant(DomainError):
    """An instant cannot be used: naive (no offset) or outside the supported range."""


class RulebookError(DomainError):
    """No rulebook version fits: unknown id, or an instant before the first version."""


# The `type` of the ApplicationError a refusal becomes at the Temporal edge.
REJECTED = "Rejected"
INVALID_ORDER = "InvalidOrder"
