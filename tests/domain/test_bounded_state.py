"""No accepted action can make an order's status outgrow what Temporal carries (issue 12, found by `make chaos`).

The status is the `status` query's answer and every update's result; the record activity's input
carries it too (without the timeline), and one workflow task completion carries an update's result
and a record together. Past Temporal's limits (2 MB a payload, 4 MB a gRPC message) the order is
stuck for good, or terminated outright (`GrpcMessageTooLarge`, seen on the dev server: one valid
`submit_result` with 100 appeal materials of 5,000 characters ended the order).

Refused signals are bounded already (`Machine.REJECTED_KEPT`). Accepted actions are not yet: each
contact, result, materials list, contribution or sent-back round adds to the status without a cap,
so a handler app that retries without a `request_id`, or a platform and a unit that send a result
back and forth, can kill an order. The fix belongs in `domain/` (bounded lists in the action models,
a cap on what repeatable actions keep); these tests hold the bound and fail strictly until then.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.errors import Rejected
from tests.support.orders import CENTER, DEPT_HOTLINE, Flow, iso, new_order, unit

LEAD = "district-hexi"
#: The most an order's status may weigh, however long it lives: a fourth of Temporal's 2 MB
#: payload limit (an update's result and a record share one 4 MB workflow task completion).
STATUS_BOUND = 512 * 1024
LONG = "话" * 5000  # the longest text a field takes (5,000 characters, 15 kB in UTF-8)


def in_handling() -> Flow:
    f = Flow(new_order())
    f.act("receive", "2026-03-06 09:30", CENTER)
    f.act("propose", "2026-03-06 10:00", CENTER, lead_unit=LEAD, assisting_units=[], opinion="河西区城管委牵头")
    f.act("review", "2026-03-06 10:30", DEPT_HOTLINE, approved=True, comment="同意")
    return f


def status_bytes(f: Flow) -> int:
    return len(f.order.status().model_dump_json().encode())


def accept_or_refuse(f: Flow, name: str, payload: dict[str, Any]) -> bool:
    """Send an action; whether it was accepted (a refusal is a fine answer to a flood)."""
    f.now += timedelta(seconds=1)
    try:
        return f.order.act(name, payload, f.now)
    except Rejected:
        return False


@pytest.mark.xfail(reason="issue 12: accepted contacts are kept without a cap (fix in domain/)", strict=True)
def test_contacts_without_request_id_cannot_outgrow_the_status() -> None:
    """300 contacts (a handler app retrying without a request_id): refused past a cap, or kept bounded."""
    f = in_handling()
    for _ in range(300):
        payload = {"actor": unit(LEAD), "at": iso("2026-03-06 10:30"), "method": "phone", "note": LONG}
        accept_or_refuse(f, "contact_reporter", payload)
    assert status_bytes(f) < STATUS_BOUND


@pytest.mark.xfail(reason="issue 12: appeal materials are an unbounded list (fix in domain/models.py)", strict=True)
def test_one_result_cannot_carry_megabytes_of_materials() -> None:
    """A result with 100 materials of 5,000 characters: refused (`invalid_payload`), or the status stays bounded."""
    f = in_handling()
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 11:00"), method="phone")
    payload = {
        "actor": unit(LEAD),
        "result": "已修复",
        "reporter_informed_at": iso("2026-03-06 11:00"),
        "appeal_materials": [LONG] * 100,
    }
    accept_or_refuse(f, "submit_result", payload)
    assert status_bytes(f) < STATUS_BOUND


@pytest.mark.xfail(reason="issue 12: every sent-back round keeps its result and comment (fix in domain/)", strict=True)
def test_sending_a_result_back_and_forth_cannot_outgrow_the_status() -> None:
    """200 rounds of result and sent-back review: refused past a cap, or kept bounded."""
    f = in_handling()
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 11:00"), method="phone")
    informed = iso("2026-03-06 11:00")
    for _ in range(200):
        accept_or_refuse(f, "submit_result", {"actor": unit(LEAD), "result": LONG, "reporter_informed_at": informed})
        accept_or_refuse(f, "review_result", {"actor": CENTER, "approved": False, "comment": LONG})
    assert status_bytes(f) < STATUS_BOUND
