"""Orders on a simulated clock for the domain tests: JSON payloads, actors, a driver that fires timers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from activities.store.calendar_data import package_calendar
from domain.calendar import BusinessCalendar
from domain.errors import Rejected
from domain.models import NewOrder
from domain.order import LIFECYCLE, Order
from domain.rulebook import Rulebook, rulebook_for

CST = timezone(timedelta(hours=8))
CAL = package_calendar()

LEAD = "district-hexi"
ASSISTING = ("dept-lighting", "unit-lighting-center")
REPORTER = {"name": "张三", "phone": "13800000000"}

#: Friday, normal tier (the rules' worked example): receipt 12:00.
D0 = "2026-03-06 09:00"


def t(s: str) -> datetime:
    """`2026-03-06 09:00` -> that instant in Asia/Shanghai (+08:00)."""
    return datetime.fromisoformat(f"{s}+08:00")


def iso(s: str) -> str:
    """`2026-03-06 09:00` -> its ISO-8601 string with +08:00."""
    return t(s).isoformat()


def actor(org: str, role: str, person: str = "王工") -> dict[str, str]:
    """An actor as plain JSON."""
    return {"org": org, "person": person, "role": role}


CENTER = actor("center", "operator")
DEPT_HOTLINE = actor("dept-hotline", "supervisor", "李处")
UTILITIES = actor("utilities", "operator")
UTILITIES_SUPERVISOR = actor("utilities", "supervisor", "赵局")
HOTLINE = actor("hotline", "hotline", "12345坐席")


def unit(org: str, person: str = "张科") -> dict[str, str]:
    """A handler of ``org``."""
    return actor(org, "handler", person)


def new_order(
    dispatched_at: str = D0,
    *,
    tier: str = "normal",
    category: str = "general",
    confidential: bool = False,
) -> NewOrder:
    """The test order (`TJ2026030600123`), transferred at ``dispatched_at``."""
    return NewOrder.model_validate(
        {
            "order_no": "TJ2026030600123",
            "tier": tier,
            "category": category,
            "dispatched_at": iso(dispatched_at),
            "reporter": {**REPORTER, "confidential": confidential},
            "location": {"district": "hexi", "address": "友谊路与围堤道交口"},
            "subject": "路灯不亮",
            "description": "三盏路灯连续三晚不亮",
            "demands": "尽快修复",
        }
    )


class Flow:
    """One order and its simulated clock; timers fire at their own instants, as in the workflow."""

    def __init__(
        self,
        new: NewOrder,
        now: datetime | None = None,
        calendar: BusinessCalendar = CAL,
        rulebook: Rulebook | None = None,
        *,
        lifecycle: int = LIFECYCLE,
    ) -> None:
        self.now = now or new.dispatched_at
        book = rulebook or rulebook_for(new.dispatched_at)
        self.order = Order(new, book, calendar, self.now, lifecycle=lifecycle)
        self.operator = CENTER if new.category == "general" else UTILITIES
        self.supervisor = DEPT_HOTLINE if new.category == "general" else UTILITIES_SUPERVISOR

    def to(self, when: str | datetime) -> datetime:
        """Move the clock to ``when``, firing every timer due on the way at its own instant."""
        target = t(when) if isinstance(when, str) else when
        assert target >= self.now, "the simulated clock never runs backwards"
        for _ in range(10000):
            nxt = self.order.next_timer()
            if nxt is None or nxt[0] > target:
                break
            self.order.fire_due(max(nxt[0], self.now))
        self.now = target
        return target

    def act(self, name: str, when: str, who: dict[str, str], **fields: Any) -> bool:
        """Send action ``name`` at ``when`` (it must be accepted)."""
        now = self.to(when)
        return self.order.act(name, {"actor": who, **fields}, now)

    def refuse(self, name: str, when: str | None, who: dict[str, str] | None, **fields: Any) -> str:
        """Send an action that must be refused; nothing may change. Returns the message."""
        return str(self.refusal(name, when, who, **fields))

    def refusal(self, name: str, when: str | None, who: dict[str, str] | None, **fields: Any) -> Rejected:
        """As `refuse`, returning the refusal itself (its kind and words)."""
        now = self.to(when) if when else self.now
        raw = {"actor": who, **fields} if who is not None else fields
        before, outbox = self.order.status(), list(self.order.outbox)
        with pytest.raises(Rejected) as err:
            self.order.act(name, raw, now)
        assert self.order.status() == before
        assert self.order.outbox == outbox
        return err.value

    def outbox(self, kind: str) -> list[str]:
        """Recipients of the outbox items of ``kind``, in order."""
        return [x.recipient for x in self.order.outbox if x.kind == kind]

    def texts(self, kind: str) -> list[str]:
        """Texts of the outbox items of ``kind``, in order."""
        return [x.text for x in self.order.outbox if x.kind == kind]

    def kinds(self) -> list[str]:
        """The timeline's kinds, in order."""
        return [e.kind for e in self.order.timeline]
