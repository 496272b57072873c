"""Shared checks of actions: payload parsing and phases (the rules themselves: `domain.order`).

Every function either returns or raises `Rejected` with a message a person can act on (what was
wrong, what is allowed).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.errors import Rejected
from domain.models import Phase, describe_validation_error

M = TypeVar("M", bound=BaseModel)


def parse_action(name: str, model: type[M], raw: Any) -> M:
    """Validate an action's JSON payload into its model.

    Raises:
        Rejected: naming every wrong field and what is allowed.
    """
    if not isinstance(raw, dict):
        raise Rejected(f"{name} refused: the payload must be a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise Rejected(f"{name} refused: {describe_validation_error(err)}") from None


def require_phase(name: str, phase: Phase, allowed: set[Phase]) -> None:
    """Refuse an action outside the phases it is allowed in."""
    if phase not in allowed:
        wanted = " or ".join(sorted(p.value for p in allowed))
        raise Rejected(f"{name} refused: the order is {phase.value}; allowed only when {wanted}")
