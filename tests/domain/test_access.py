"""Who may hold a token for what, and who may see or do what through the gateway."""

from __future__ import annotations

import pytest

from domain.access import ACTION_ROLES, action_role_refusal, role_misfit
from domain.models import ACTIONS, Role


class TestRoleFit:
    @pytest.mark.parametrize(
        ("org", "role"),
        [
            ("hotline", Role.HOTLINE),
            ("center", Role.OPERATOR),
            ("utilities", Role.OPERATOR),
            ("utilities", Role.SUPERVISOR),
            ("utilities", Role.HANDLER),
            ("dept-hotline", Role.SUPERVISOR),
            ("dept-lighting", Role.HANDLER),
            ("unit-roads-center", Role.HANDLER),
            ("district-hexi", Role.HANDLER),
        ],
    )
    def test_roles_the_lifecycle_gives(self, org: str, role: Role) -> None:
        """Each org may hold the roles it acts in under docs/lifecycle.md."""
        assert role_misfit(org, role) is None

    @pytest.mark.parametrize(
        ("org", "role", "words"),
        [
            ("district-hexi", Role.HOTLINE, "allowed for hotline: the city hotline"),
            ("district-hexi", Role.OPERATOR, "allowed for operator: the platforms"),
            ("center", Role.SUPERVISOR, "allowed for supervisor: the supervising departments"),
            ("center", Role.HANDLER, "orgs that can handle orders"),
            ("hotline", Role.HANDLER, "hotline cannot act as handler"),
            ("dept-hotline", Role.OPERATOR, "dept-hotline cannot act as operator"),
            ("nobody", Role.HANDLER, "unknown org 'nobody'"),
        ],
    )
    def test_roles_it_does_not(self, org: str, role: Role, words: str) -> None:
        """Any other pairing is refused with the orgs the role is for."""
        misfit = role_misfit(org, role)
        assert misfit is not None
        assert words in misfit


class TestActionRoles:
    def test_every_action_has_its_role(self) -> None:
        """The gateway can decide the role of every action of the contract."""
        assert set(ACTION_ROLES) == set(ACTIONS)

    def test_a_unit_cannot_receive(self) -> None:
        """A handler asking to receive is refused in the workflow's words."""
        refused = action_role_refusal("receive", "district-hexi", Role.HANDLER)
        assert refused is not None
        assert refused.startswith("receive refused: district-hexi (handler) has no standing; allowed:")
        assert action_role_refusal("receive", "center", Role.OPERATOR) is None
