"""`record_order`: idempotent writes, and holiday on-duty copies of warnings (Articles 4.7, 6.7)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import asyncpg

from activities.orders import OrderActivities
from activities.store import calendar_store
from activities.store.calendar_data import package_calendar
from activities.store.duties import set_roster
from domain.contract import order_workflow_id
from domain.models import NewOrder
from domain.order import Order
from domain.records import OrderRecord
from domain.rulebook import rulebook_for
from tests.support.workflows import new_order


async def test_warnings_during_a_break_also_reach_the_on_duty_contact(pool: asyncpg.Pool) -> None:
    """An extra-urgent order on 2026-05-02 (inside the 5-day Labour Day break): its receipt warning
    goes to the platform and its supervising department, and a copy of each to the on-duty contact;
    writing the same record twice adds nothing."""
    calendar = await calendar_store.load_calendar(pool)
    brk = calendar.break_containing(date(2026, 5, 2))
    assert brk is not None
    await set_roster(pool, brk, "dept-hotline", name="节日值班员", phone="13800000001", by="t")
    no = f"H{uuid.uuid4().hex[:10]}"
    t = datetime.fromisoformat("2026-05-02T10:00:00+08:00")
    new = NewOrder.model_validate(new_order(no, tier="extra_urgent", dispatched_at=t.isoformat()))
    order = Order(new, rulebook_for(t), package_calendar(), t)
    order.fire_due(t + timedelta(minutes=50))
    record = OrderRecord(
        run_id=f"run-{no}", workflow_id=order_workflow_id(no), revision=order.revision, order=new,
        status=order.status(), outbox=list(order.outbox),
    )  # fmt: skip
    activities = OrderActivities(pool)
    await activities.record_order(record)
    await activities.record_order(record)
    rows = await pool.fetch(
        "SELECT route, duty_contact FROM notification_outbox WHERE order_no = $1 AND kind = 'receipt_warning' "
        "ORDER BY route",
        no,
    )
    assert [(r["route"], r["duty_contact"]) for r in rows] == [
        ("center", None),
        ("dept-hotline", None),
        ("duty:center", "节日值班员"),  # no contact of its own: the supervising department's
        ("duty:dept-hotline", "节日值班员"),
    ]
