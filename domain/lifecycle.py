"""Which action is allowed in which phase, and by whom (Articles 4.3, 6.1, 7, 8).

Pure: every function takes the order's state and the action and either returns or raises
`Rejected` with a message a person can act on (what was wrong, what is allowed).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.errors import Rejected
from domain.models import Actor, Phase, Platform, Role, describe_validation_error

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


def require_platform_operator(name: str, actor: Actor, platform: Platform) -> None:
    """Refuse anyone but an operator of the order's own platform (Articles 5.2, 6.1, 8.1)."""
    if actor.org != platform.value or actor.role is not Role.OPERATOR:
        raise Rejected(
            f"{name} refused: {actor.org} ({actor.role.value}) has no standing; allowed: "
            f"the {platform.value} platform's operator (org {platform.value!r}, role 'operator')"
        )


def check_receive(phase: Phase, actor: Actor, platform: Platform) -> None:
    """`receive`: the platform's operator checks the order in while it awaits receipt (Art. 8.1)."""
    require_phase("receive", phase, {Phase.AWAITING_RECEIPT})
    require_platform_operator("receive", actor, platform)
