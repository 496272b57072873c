"""The pages of `hotline order show` and of a unit's handling order (`order view`, a unit's `desk`),
drawn from orders driven on a simulated clock (no Temporal): what each page must say, and what a
unit's page must never say."""

from __future__ import annotations

import io
from datetime import datetime

from domain.models import Phase
from domain.order import LIFECYCLE_LEGACY
from starter.cli.pages import extension_state, render_handling_order, render_status
from tests.support.orders import ASSISTING, CENTER, HOTLINE, LEAD, REPORTER, Flow, iso, new_order, t, unit

OPINION = "河西区城管委牵头，照明处协办"


def _in_handling(**kw: object) -> Flow:
    f = Flow(new_order(**kw))  # type: ignore[arg-type]
    f.act("receive", "2026-03-06 09:30", f.operator)
    f.act("propose", "2026-03-06 10:00", f.operator, lead_unit=LEAD, assisting_units=list(ASSISTING), opinion=OPINION)
    f.act("review", "2026-03-06 10:30", f.supervisor, approved=True)
    return f


def _page(draw: object, *args: object, now: datetime) -> str:
    out = io.StringIO()
    draw(*args, now=now, out=out)  # type: ignore[operator]
    return out.getvalue()


def test_show_names_lifecycle_handlers_reviews_extensions_and_reminders() -> None:
    f = _in_handling()
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone",
          handler={"person": "刘专员", "phone": "022-23456789"})  # fmt: skip
    f.act(
        "request_extension", "2026-03-16 10:00", unit(LEAD), reason="需更换电缆", requested_due=iso("2026-03-20 00:00"),
        reporter_notified_at=iso("2026-03-16 09:00"), written_reply="书面回复",
    )  # fmt: skip
    page = _page(render_status, f.order.status(), now=f.now)
    assert "lifecycle 2" in page
    assert "刘专员 (022-23456789)" in page  # the lead's named handler
    assert "waits at the platform (forward or decline)" in page
    f.act("forward_extension", "2026-03-16 11:00", CENTER, forward=True, note="情况属实")
    f.to("2026-03-17 12:00")  # the old deadline passes while the city hotline decides
    page = _page(render_status, f.order.status(), now=f.now)
    assert "forwarded 03-16 11:00 (情况属实); waits at the city hotline" in page
    assert "OVERDUE" in page
    f.act("extension_decision", "2026-03-17 12:00", HOTLINE, approved=True, approved_due=iso("2026-03-20 00:00"))
    for u in ASSISTING:
        f.act("contribute", "2026-03-18 10:00", unit(u), content=f"{u} 已配合")
    f.act(
        "submit_result",
        "2026-03-19 15:00",
        unit(LEAD),
        result="已更换电缆",
        reporter_informed_at=iso("2026-03-19 14:00"),
    )
    page = _page(render_status, f.order.status(), now=f.now)
    assert "the overdue mark raised meanwhile was lifted" in page
    assert "overdue mark lifted 03-17 12:00 (extension approved)" in page
    assert "paused" in page  # the completion deadline, while the result waits for review
    assert "waits for the platform's review (by " in page
    f.act("review_result", "2026-03-19 15:30", CENTER, approved=False, comment="请附照片")
    page = _page(render_status, f.order.status(), now=f.now)
    assert "SENT BACK to the lead 03-19 15:30 by center/王工: 请附照片" in page


def test_show_the_appeal_window_and_wait() -> None:
    f = _in_handling()
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
    for u in ASSISTING:
        f.act("contribute", "2026-03-06 14:00", unit(u), content="已配合")
    f.act("submit_result", "2026-03-09 10:00", unit(LEAD), result="已修", reporter_informed_at=iso("2026-03-09 09:30"))
    f.act("review_result", "2026-03-09 11:00", CENTER, approved=True)
    f.act("callback", "2026-03-10 10:00", HOTLINE, verdict="dissatisfied", note="还是不亮")
    f.act("contact_reporter", "2026-03-10 11:00", unit(LEAD), at=iso("2026-03-10 10:30"), method="visit")
    f.act("submit_result", "2026-03-11 10:00", unit(LEAD), result="再修", reporter_informed_at=iso("2026-03-11 09:30"))
    f.act("review_result", "2026-03-11 11:00", CENTER, approved=True)
    f.act("callback", "2026-03-12 10:00", HOTLINE, verdict="dissatisfied", note="仍不满意")
    assert f.order.phase is Phase.APPEAL_WINDOW
    page = _page(render_status, f.order.status(), now=f.now)
    assert "appeal window: until" in page
    f.act("file_appeal", "2026-03-12 11:00", CENTER, reason="已按标准修复", materials=["说明.pdf"])
    page = _page(render_status, f.order.status(), now=f.now)
    assert "appeal filed 2026-03-12 11:00 by center/王工: 已按标准修复; materials: 说明.pdf" in page
    assert "appeal wait: closes appeal_unanswered" in page
    assert "re-handling round 1" in page


def test_a_lifecycle_1_order_says_so() -> None:
    f = Flow(new_order(), lifecycle=LIFECYCLE_LEGACY)
    page = _page(render_status, f.order.status(), now=f.now)
    assert "lifecycle 1 (started before lifecycle 2: it keeps the rules it started with)" in page


def test_the_leads_page_shows_the_phone_confidential_never_the_name() -> None:
    f = _in_handling(confidential=True)
    f.act("contribute", "2026-03-06 14:00", unit(ASSISTING[0], "周工"), content="线路已检查，需更换电缆")
    f.act("contact_reporter", "2026-03-06 15:00", unit(LEAD), at=iso("2026-03-06 14:55"), method="phone")
    f.act("contribute", "2026-03-06 15:00", unit(ASSISTING[1]), content="灯杆完好")
    f.act("submit_result", "2026-03-09 10:00", unit(LEAD), result="已修", reporter_informed_at=iso("2026-03-09 09:30"))
    f.act("review_result", "2026-03-09 11:00", CENTER, approved=False, comment="请附照片")
    page = _page(render_handling_order, f.order.handling_order(LEAD), now=f.now)
    assert f"reporter: phone {REPORTER['phone']}  CONFIDENTIAL (name withheld)" in page
    assert "never say who reported" in page  # the instruction
    assert REPORTER["name"] not in page
    assert f"for {LEAD}" in page
    assert "you lead" in page
    assert "线路已检查，需更换电缆" in page  # every contribution, in full
    assert "灯杆完好" in page
    assert "周工" in page  # the assisting unit's handler, named by its first action
    assert "review: SENT BACK to the lead 03-09 11:00 by center/王工: 请附照片" in page
    assert "return window" in page  # its own deadlines
    assert "completion deadline" in page


def test_an_assisting_units_page_shows_the_lead_its_own_contributions_and_the_verdict() -> None:
    f = _in_handling()
    f.act("contact_reporter", "2026-03-06 11:00", unit(LEAD), at=iso("2026-03-06 10:55"), method="phone")
    for u in ASSISTING:
        f.act("contribute", "2026-03-06 14:00", unit(u), content=f"{u} 的意见")
    f.act("submit_result", "2026-03-09 10:00", unit(LEAD), result="已修", reporter_informed_at=iso("2026-03-09 09:30"))
    f.act("review_result", "2026-03-09 11:00", CENTER, approved=True)
    f.act("callback", "2026-03-10 10:00", HOTLINE, verdict="dissatisfied", note="晚上还是不亮")
    page = _page(render_handling_order, f.order.handling_order(ASSISTING[0]), now=t("2026-03-10 10:05"))
    assert f"{LEAD} leads" in page
    assert f"{ASSISTING[0]} 的意见" in page
    assert f"{ASSISTING[1]} 的意见" not in page
    assert "latest callback verdict: dissatisfied 2026-03-10 10:00 (on the first handling): 晚上还是不亮" in page
    assert f"reporter: {REPORTER['name']}, phone {REPORTER['phone']}" in page  # not confidential


def test_a_declined_extension_in_words() -> None:
    f = _in_handling()
    f.act(
        "request_extension", "2026-03-09 10:00", unit(LEAD), reason="需协调", requested_due=iso("2026-03-20 00:00"),
        reporter_notified_at=iso("2026-03-09 09:00"), written_reply="书面回复",
    )  # fmt: skip
    f.act("forward_extension", "2026-03-09 11:00", CENTER, forward=False, note="理由不足")
    assert extension_state(f.order.extensions[-1]) == "declined by the platform 03-09 11:00: 理由不足"
