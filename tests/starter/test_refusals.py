"""A refusal keeps its kind from the workflow to the client and the gateway, and no word decides it."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import REFUSAL_TYPES, RefusalKind
from starter.client import refusal
from starter.errors import FALLBACK_KIND, ActionRefused, refusal_kind
from workers.gateway import _refused_by_order, _temporal

#: The gateway's answer to each kind (docs/gateway.md).
STATUS: dict[RefusalKind, int] = {
    RefusalKind.NO_STANDING: 403,
    RefusalKind.INVALID_PAYLOAD: 422,
    RefusalKind.INVALID_INSTANT: 422,
    RefusalKind.WRONG_PHASE: 409,
    RefusalKind.WINDOW_CLOSED: 409,
    RefusalKind.PRECONDITION: 409,
    RefusalKind.DUPLICATE_REQUEST: 409,
    RefusalKind.CLOSED: 409,
    RefusalKind.ORDER_REFUSED: 409,
}


def test_every_kind_has_its_status() -> None:
    assert set(STATUS) == set(RefusalKind)
    assert {k.value for k in STATUS} == REFUSAL_TYPES


@pytest.mark.parametrize("kind", list(RefusalKind))
def test_the_type_is_the_kind(kind: RefusalKind) -> None:
    """An update failing with ApplicationError(type=<kind>) is ActionRefused with that kind and the words."""
    err = WorkflowUpdateFailedError(ApplicationError("receive refused: why", type=kind.value, non_retryable=True))
    refused = refusal(err)
    assert refused is not None
    assert (refused.kind, refused.message, str(refused)) == (kind, "receive refused: why", "receive refused: why")


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("Rejected", RefusalKind.PRECONDITION),  # workers from before the kinds
        ("InvalidOrder", RefusalKind.ORDER_REFUSED),
        ("SomethingNew", FALLBACK_KIND),
        (None, FALLBACK_KIND),
    ],
)
def test_types_that_name_no_kind(error_type: str | None, kind: RefusalKind) -> None:
    assert refusal_kind(error_type) is kind


def test_a_query_failure_has_the_fallback_kind() -> None:
    """Temporal passes a query's failure on as words only."""
    refused = refusal(WorkflowQueryFailedError("handling_order refused: district-hebei is not assigned"))
    assert (refused.kind, refused.message) == (FALLBACK_KIND, "handling_order refused: district-hebei is not assigned")


def test_an_update_failing_otherwise_is_no_refusal() -> None:
    assert refusal(WorkflowUpdateFailedError(RuntimeError("boom"))) is None


@pytest.mark.parametrize("kind", list(RefusalKind))
def test_the_gateway_answers_by_kind_alone(kind: RefusalKind) -> None:
    """The same words under every kind: only the kind moves the status."""
    words = "contribute refused: has no standing; not assigned"
    answer = _refused_by_order(ActionRefused(words, kind))
    if STATUS[kind] == 422:
        assert isinstance(answer, RequestValidationError)
        [problem] = answer.errors()
        assert (problem["loc"], problem["type"]) == (("body",), kind.value)
        assert problem["msg"] == words
    else:
        assert isinstance(answer, HTTPException)
        assert (answer.status_code, answer.detail) == (STATUS[kind], words)


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (
            RPCStatusCode.RESOURCE_EXHAUSTED,
            "limit on number of concurrent in-flight updates has been reached (10)",
            429,
        ),
        (RPCStatusCode.NOT_FOUND, "workflow update was aborted", 503),
        (RPCStatusCode.UNAVAILABLE, "connection refused", 503),
    ],
)
async def test_temporal_turning_an_action_away_is_try_again(status: RPCStatusCode, message: str, code: int) -> None:
    """Issue 12 (found by make chaos R3): the server's own refusals before the order saw the action
    are "nothing was changed; try again", never a 500."""

    async def call() -> None:
        raise RPCError(message, status, b"")

    with pytest.raises(HTTPException) as caught:
        await _temporal(call())
    assert caught.value.status_code == code
    assert "nothing was changed" in str(caught.value.detail)
    if code == 429:
        assert caught.value.headers == {"Retry-After": "1"}
