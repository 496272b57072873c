"""Who may hold a token for what, and who may see or do what through the handler gateway.

The gateway (``workers/gateway.py``) authenticates an org and a role by its bearer token; these
rules decide, before anything reaches an order, whether that org and role have standing. They
restate ``docs/lifecycle.md`` ("Who may do what") and the contract's confidentiality rule (Article
8.2: units see their own handling order, never the whole order). The workflow checks standing again
on every action; a check here only answers earlier and keeps orders out of reach of orgs that have
no business with them.

Every function returns ``None`` when allowed, else the refusal in the workflow's words: what was
refused, who was refused, what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from domain.directory import ORGANISATIONS, can_handle
from domain.models import OrderStatus, Platform, Role
from domain.order import SUPERVISOR

#: The role each action is taken in (``docs/lifecycle.md``, "Who may do what").
ACTION_ROLES: Final[dict[str, Role]] = {
    "receive": Role.OPERATOR,
    "propose": Role.OPERATOR,
    "return_to_hotline": Role.OPERATOR,
    "release_assisting_unit": Role.OPERATOR,
    "file_appeal": Role.OPERATOR,
    "review_result": Role.OPERATOR,
    "forward_extension": Role.OPERATOR,
    "review": Role.SUPERVISOR,
    "contact_reporter": Role.HANDLER,
    "return_order": Role.HANDLER,
    "contribute": Role.HANDLER,
    "request_extension": Role.HANDLER,
    "submit_result": Role.HANDLER,
    "extension_decision": Role.HOTLINE,
    "callback": Role.HOTLINE,
    "appeal_decision": Role.HOTLINE,
    "withdraw": Role.HOTLINE,
}

#: Who an action is for, in words, by role (the "allowed: …" part of a refusal).
_ALLOWED: Final[dict[Role, str]] = {
    Role.OPERATOR: "the order's platform's operator (center for general orders, utilities for the others)",
    Role.SUPERVISOR: "the platform's supervising department's supervisor (dept-hotline or utilities)",
    Role.HANDLER: "a handler of a unit assigned to the order",
    Role.HOTLINE: "the city hotline (org 'hotline', role 'hotline')",
}


def _operators(org: str) -> bool:
    return org in {p.value for p in Platform}


def _supervisors(org: str) -> bool:
    return org in set(SUPERVISOR.values())


def _hotline(org: str) -> bool:
    return org == "hotline"


#: Which orgs a token of each role may be issued to.
_ROLE_FITS: Final[dict[Role, tuple[Callable[[str], bool], str]]] = {
    Role.OPERATOR: (_operators, "the platforms: center, utilities"),
    Role.SUPERVISOR: (_supervisors, "the supervising departments: dept-hotline, utilities"),
    Role.HANDLER: (can_handle, "orgs that can handle orders: dept-*, unit-*, district-*, utilities"),
    Role.HOTLINE: (_hotline, "the city hotline: hotline"),
}


def role_misfit(org: str, role: Role) -> str | None:
    """Why ``org`` may not hold a token for ``role``, or None when it may.

    A token stands for one org acting in one role (contract: ``actor.org``, ``actor.role``); a role
    is only issued to orgs the lifecycle gives it to, so a token can never claim more than its org
    could do through the `temporal` CLI.
    """
    if org not in ORGANISATIONS:
        return (
            f"unknown org {org!r}; allowed: hotline, center, utilities, dept-*, unit-*, district-* "
            "ids of the organisation directory"
        )
    fits, who = _ROLE_FITS[role]
    if not fits(org):
        return f"{org} cannot act as {role.value}; allowed for {role.value}: {who}"
    return None


def _who(org: str, role: Role) -> str:
    return f"{org} ({role.value})"


def action_role_refusal(action: str, org: str, role: Role) -> str | None:
    """Refuse ``action`` for a role the lifecycle does not give it to (decided without the order)."""
    wanted = ACTION_ROLES[action]
    if role is not wanted:
        return f"{action} refused: {_who(org, role)} has no standing; allowed: {_ALLOWED[wanted]}"
    return None


def action_standing_refusal(action: str, org: str, role: Role, status: OrderStatus) -> str | None:
    """Refuse ``action`` for an org with no standing on this order (decided on its `status`).

    Platform actions belong to the order's platform, a review to its supervising department, unit
    actions to units assigned to it now. Which assigned unit (lead or assisting) and the phase are
    left to the workflow, which words them itself.
    """
    refused = action_role_refusal(action, org, role)
    if refused is not None:
        return refused
    platform = status.platform
    if role is Role.OPERATOR and org != platform.value:
        return (
            f"{action} refused: {_who(org, role)} has no standing on a {platform.value} order; "
            f"allowed: the {platform.value} platform's operator (org {platform.value!r}, role 'operator')"
        )
    if role is Role.SUPERVISOR and org != SUPERVISOR[platform]:
        sup = SUPERVISOR[platform]
        return (
            f"{action} refused: {_who(org, role)} has no standing on a {platform.value} order; "
            f"allowed: its supervising department (org {sup!r}, role 'supervisor')"
        )
    if role is Role.HANDLER and org not in status.units:
        return (
            f"{action} refused: {_who(org, role)} is not a unit assigned to this order; "
            "allowed: a handler of a unit assigned to it"
        )
    return None


def status_refusal(org: str, role: Role, status: OrderStatus | None = None) -> str | None:
    """Refuse the whole order (`status`) to anyone but its platform, supervisor and the city hotline.

    Units see their handling order only (Article 8.2). Without ``status`` only the role is judged;
    with it, a platform's operator or supervisor is held to orders of that platform.
    """
    if role is Role.HANDLER:
        return (
            f"status refused: {_who(org, role)} is a unit; units see their own handling order only; "
            "allowed: the platform's operator, its supervising department, the city hotline"
        )
    if status is None or role is Role.HOTLINE:
        return None
    platform = status.platform
    if (role is Role.OPERATOR and org != platform.value) or (role is Role.SUPERVISOR and org != SUPERVISOR[platform]):
        return (
            f"status refused: {_who(org, role)} has no standing on a {platform.value} order; allowed: "
            f"the {platform.value} platform's operator, its supervising department "
            f"{SUPERVISOR[platform]}, the city hotline"
        )
    return None


def handling_order_refusal(org: str, role: Role, unit: str, status: OrderStatus) -> str | None:
    """Refuse a unit's handling order to anyone but that unit (while assigned) and the status viewers.

    A unit reads only its own view, and only while it is assigned to the order (``status.units``:
    the units assigned now; a unit that returned the order or was released has lost it).
    """
    if role is Role.HANDLER:
        if unit != org:
            return (
                f"handling_order refused: {_who(org, role)} may not read {unit}'s handling order; "
                "allowed: a unit's own handling order"
            )
        if org not in status.units:
            return (
                f"handling_order refused: {_who(org, role)} is not a unit assigned to this order; "
                "allowed: a handler of a unit assigned to it"
            )
        return None
    return status_refusal(org, role, status)
