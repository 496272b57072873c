"""Properties of the order's life under random sequences of actions at random instants (hypothesis).

Each example transfers one order (random tier, category, confidentiality, arrival), then plays a
random sequence of steps: the clock moves forward by a random span (timers fire at their own
instants on the way), then a random actor sends a random action with a payload that is valid,
half-valid (instants out of bounds, unknown units) or garbage. After every step:

- every phase but ``closed`` has an armed timer (never stuck);
- an action from a party without standing is refused and changes nothing (the oracle of standing
  here is written from the contract's table, independently of `domain.order`);
- any refused action changes nothing; the timeline and the outbox only grow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.errors import Rejected
from domain.models import ACTIONS, Phase
from domain.order import SUPERVISOR, Order
from tests.support.orders import Flow, actor, new_order

ACTORS = [
    actor("center", "operator"),
    actor("utilities", "operator"),
    actor("dept-hotline", "supervisor"),
    actor("utilities", "supervisor"),
    actor("hotline", "hotline"),
    actor("district-hexi", "handler"),
    actor("dept-lighting", "handler"),
    actor("unit-lighting-center", "handler"),
    actor("dept-roads", "handler"),
    actor("district-hexi", "operator"),
    actor("center", "handler"),
]
UNITS = ["district-hexi", "dept-lighting", "unit-lighting-center", "dept-roads"]
PLATFORM_ACTIONS = {
    "receive",
    "propose",
    "return_to_hotline",
    "release_assisting_unit",
    "review_result",
    "forward_extension",
    "file_appeal",
}
HOTLINE_ACTIONS = {"extension_decision", "callback", "appeal_decision", "withdraw"}
UNIT_ACTIONS = {"contact_reporter", "return_order", "contribute"}
LEAD_ACTIONS = {"request_extension", "submit_result"}


def has_standing(order: Order, name: str, who: dict[str, str]) -> bool:
    """The contract's "sent by" column, read on the order as it stands."""
    org, role = who["org"], who["role"]
    platform = order.new.platform.value
    if name in PLATFORM_ACTIONS:
        return org == platform and role == "operator"
    if name == "review":
        return org == SUPERVISOR[order.new.platform] and role == "supervisor"
    if name in HOTLINE_ACTIONS:
        return org == "hotline" and role == "hotline"
    active = {x.unit: x.role for x in order.assignments if x.state == "active"}
    if name in UNIT_ACTIONS:
        return role == "handler" and org in active
    assert name in LEAD_ACTIONS
    return role == "handler" and active.get(org) == "lead"


def _iso(t: datetime) -> str:
    return t.isoformat()


#: What moves an order on from each phase (drawn seven times in eight; any action else).
NEXT: dict[Phase, list[str]] = {
    Phase.AWAITING_RECEIPT: ["receive"],
    Phase.RECEIVED: ["propose"],
    Phase.IN_REVIEW: ["review"],
    Phase.IN_HANDLING: [
        "contact_reporter",
        "contribute",
        "submit_result",
        "request_extension",
        "forward_extension",
        "extension_decision",
        "release_assisting_unit",
        "return_order",
    ],
    Phase.RESULT_REVIEW: ["review_result"],
    Phase.AWAITING_CALLBACK: ["callback", "file_appeal"],
    Phase.APPEAL_WINDOW: ["file_appeal"],
    Phase.APPEALING: ["appeal_decision", "callback"],
}
NEXT[Phase.REHANDLING] = NEXT[Phase.IN_HANDLING]


def rightful(order: Order, name: str) -> list[dict[str, str]]:
    """Who may send ``name`` on the order as it stands (empty when nobody can now)."""
    if name in PLATFORM_ACTIONS:
        return [actor(order.new.platform.value, "operator")]
    if name == "review":
        return [actor(SUPERVISOR[order.new.platform], "supervisor")]
    if name in HOTLINE_ACTIONS:
        return [actor("hotline", "hotline")]
    active = [x for x in order.assignments if x.state == "active" and (name not in LEAD_ACTIONS or x.role == "lead")]
    return [actor(x.unit, "handler") for x in active]


def payload(data: st.DataObject, name: str, order: Order, now: datetime) -> Any:
    """A payload for ``name``: mostly plausible, sometimes out of bounds, now and then garbage."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(st.sampled_from([None, "x", 17, [], {"actor": "nobody"}, {}]))
    since = max((x.dispatched_at for x in order.assignments), default=now - timedelta(days=1))
    span = max(int((now - since).total_seconds() // 60), 0)
    ago = timedelta(minutes=data.draw(st.integers(-30, span + 60)))
    when = _iso(now - ago)
    later = _iso(now + timedelta(hours=data.draw(st.integers(-12, 400))))
    text = data.draw(st.sampled_from(["已处理", "现场已核实", "需协调"]))
    match name:
        case "propose":
            lead = data.draw(st.sampled_from(UNITS))
            others = data.draw(st.lists(st.sampled_from(UNITS), max_size=2, unique=True))
            return {"lead_unit": lead, "assisting_units": [u for u in others if u != lead], "opinion": text}
        case "review" | "review_result":
            approved = data.draw(st.booleans())
            return {"approved": approved, "comment": "" if approved and data.draw(st.booleans()) else text}
        case "return_to_hotline" | "withdraw":
            return {"reason": text}
        case "contact_reporter":
            return {"at": when, "method": data.draw(st.sampled_from(["phone", "visit", "sms", "other"])), "note": text}
        case "return_order":
            return {"reason": text, "basis": "职责清单"}
        case "request_extension":
            return {"reason": text, "requested_due": later, "reporter_notified_at": when, "written_reply": text}
        case "contribute":
            return {"content": text}
        case "release_assisting_unit":
            return {"unit": data.draw(st.sampled_from(UNITS)), "reason": text}
        case "submit_result":
            materials = data.draw(st.lists(st.just("照片.jpg"), max_size=1))
            return {"result": text, "reporter_informed_at": when, "appeal_materials": materials}
        case "forward_extension":
            return {"forward": data.draw(st.booleans()), "note": text}
        case "file_appeal":
            return {"reason": text, "materials": ["说明.pdf"]}
        case "extension_decision":
            approved = data.draw(st.booleans())
            return {"approved": approved, "approved_due": later if approved else None, "note": text}
        case "callback":
            verdicts = ["satisfied", "basically_satisfied", "dissatisfied", "dissatisfied", "dissatisfied"]
            return {"verdict": data.draw(st.sampled_from(verdicts))}
        case "appeal_decision":
            return {"upheld": data.draw(st.booleans())}
    return {}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_never_stuck_and_no_standing_changes_nothing(data: st.DataObject) -> None:
    """Random lives keep the invariants after every step (see the module's docstring)."""
    f = Flow(
        new_order(
            data.draw(
                st.sampled_from(["2026-03-06 09:00", "2026-09-30 23:00", "2026-02-12 16:45", "2026-05-03 10:00"])
            ),
            tier=data.draw(st.sampled_from(["normal", "urgent", "very_urgent", "extra_urgent"])),
            category=data.draw(st.sampled_from(["general", "gas"])),
            confidential=data.draw(st.booleans()),
        )
    )
    o = f.order
    for _ in range(data.draw(st.integers(1, 80))):
        minutes = data.draw(st.sampled_from([0, 1, 10, 30, 60, 180, 600, 1440, 4320, 14400]))
        f.to(f.now + timedelta(minutes=minutes))
        assert o.phase is Phase.CLOSED or o.next_timer() is not None, f"stuck in {o.phase.value}"
        if o.phase is Phase.CLOSED:
            event(f"closed {o.outcome.value if o.outcome else ''}")
        moves = NEXT.get(o.phase, [])
        name = data.draw(st.sampled_from(moves if moves and data.draw(st.integers(0, 7)) else list(ACTIONS)))
        who = data.draw(
            st.sampled_from(rightful(o, name) or ACTORS) if data.draw(st.integers(0, 4)) else st.sampled_from(ACTORS)
        )
        raw_payload = payload(data, name, o, f.now)
        raw = {"actor": who, **raw_payload} if isinstance(raw_payload, dict) else raw_payload
        standing = has_standing(o, name, who)
        before, outbox, timeline = o.status(), list(o.outbox), len(o.timeline)
        try:
            o.act(name, raw, f.now)
        except Rejected:
            assert o.status() == before, f"{name} refused but changed the order"
            assert o.outbox == outbox
            continue
        assert standing, f"{name} by {who['org']} ({who['role']}) was taken without standing in {before.phase.value}"
        assert len(o.timeline) >= timeline
        assert o.outbox[: len(outbox)] == outbox
        assert o.phase is Phase.CLOSED or o.next_timer() is not None, f"stuck in {o.phase.value} after {name}"
        event(f"reached {o.phase.value}")


@pytest.mark.parametrize("phase", [p for p in Phase if p is not Phase.CLOSED])
def test_the_oracle_knows_every_action(phase: Phase) -> None:
    """Every action of the contract has a standing rule in the oracle (so new actions are not missed)."""
    assert set(ACTIONS) == PLATFORM_ACTIONS | HOTLINE_ACTIONS | UNIT_ACTIONS | LEAD_ACTIONS | {"review"}
