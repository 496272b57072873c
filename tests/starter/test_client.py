"""The client library: one typed method per contract action, payloads as the contract spells them,
refusals with their kind (no Temporal server: the handle is a stand-in that keeps what it was sent)."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.contract import OrderAction
from domain.errors import RefusalKind
from domain.models import (
    ACTIONS,
    Actor,
    ContactMethod,
    ContactReporter,
    ForwardExtension,
    Handler,
    OrderStatus,
    ReviewResult,
    Role,
)
from domain.order import Order
from domain.rulebook import rulebook_for
from starter.client import ActionRefused, HotlineClient
from tests.support.orders import CAL, new_order


class _Handle:
    def __init__(self, fail: ApplicationError | None = None) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.fail = fail

    async def execute_update(self, name: str, payload: Any, *, result_type: type) -> OrderStatus:
        self.sent.append((name, payload))
        if self.fail is not None:
            raise WorkflowUpdateFailedError(self.fail)
        return _status()


class _Client:
    def __init__(self, handle: _Handle) -> None:
        self.handle = handle

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return self.handle


def _status() -> OrderStatus:
    new = new_order()
    return Order(new, rulebook_for(new.dispatched_at), CAL, new.dispatched_at).status()


def _client(handle: _Handle) -> HotlineClient:
    return HotlineClient(cast(Client, _Client(handle)), task_queue="test")


def test_one_method_per_action() -> None:
    """Every action of the contract has its method, named as the action, taking its model."""
    for name, model in ACTIONS.items():
        method = getattr(HotlineClient, name, None)
        assert method is not None, f"HotlineClient has no method {name}"
        hints = inspect.signature(method).parameters["action"].annotation
        assert hints in (model.__name__, model), name


PLATFORM = Actor(org="center", person="王工", role=Role.OPERATOR)


async def test_review_result_and_forward_extension_send_their_payloads() -> None:
    handle = _Handle()
    client = _client(handle)
    await client.review_result("TJ1", ReviewResult(actor=PLATFORM, approved=False, comment="未附照片"))
    await client.forward_extension("TJ1", ForwardExtension(actor=PLATFORM, forward=True, note="同意申请"))
    assert handle.sent == [
        (OrderAction.REVIEW_RESULT, {"actor": PLATFORM.model_dump(mode="json"), "approved": False,
                                     "comment": "未附照片"}),
        (OrderAction.FORWARD_EXTENSION, {"actor": PLATFORM.model_dump(mode="json"), "forward": True,
                                         "note": "同意申请"}),
    ]  # fmt: skip


async def test_a_unit_action_names_its_handler() -> None:
    """`handler` goes out as the contract's object; without a phone, no `phone` key."""
    handle = _Handle()
    unit = Actor(org="dept-roads", person="张科", role=Role.HANDLER)
    at = datetime.fromisoformat("2026-03-06T10:00:00+08:00")
    await _client(handle).contact_reporter(
        "TJ1",
        ContactReporter(
            actor=unit, at=at, method=ContactMethod.PHONE, handler=Handler(person="李专员", phone="022-1234")
        ),
    )
    await _client(handle).contact_reporter("TJ1", ContactReporter(actor=unit, at=at, method=ContactMethod.PHONE))
    (_, first), (_, second) = handle.sent
    assert first["handler"] == {"person": "李专员", "phone": "022-1234"}
    assert "handler" not in second


@pytest.mark.parametrize("kind", [RefusalKind.WRONG_PHASE, RefusalKind.PRECONDITION, RefusalKind.NO_STANDING])
async def test_a_refusal_of_a_new_action_keeps_its_kind(kind: RefusalKind) -> None:
    words = "review_result refused: no result waits for review (the order is in_handling); allowed when result_review"
    handle = _Handle(ApplicationError(words, type=kind.value, non_retryable=True))
    with pytest.raises(ActionRefused) as err:
        await _client(handle).review_result("TJ1", ReviewResult(actor=PLATFORM, approved=True))
    assert (err.value.kind, err.value.message) == (kind, words)
