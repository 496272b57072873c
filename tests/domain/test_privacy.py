"""A confidential reporter's name and phone taken out of text (`domain.privacy`), as the order does it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domain.calendar import BusinessCalendar
from domain.models import NewOrder
from domain.order import Order
from domain.privacy import REDACTED, redact
from domain.rulebook import rulebook_for

NAME, PHONE = "李桂兰", "13912345678"

TEXTS = [
    "李桂兰说暖气仍不热",
    "请回电13912345678",
    "请回电 139 1234 5678 或 +86-139-1234-5678",
    "139-1234-5678（李桂兰）",
    "无关的文字 12345",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_as_the_order_sends(text: str) -> None:
    """`redact` takes out what `Order` takes out of everything it sends for a confidential reporter."""
    t0 = datetime(2026, 3, 6, 9, tzinfo=timezone(timedelta(hours=8)))
    new = NewOrder.model_validate(
        {
            "order_no": "P1",
            "tier": "normal",
            "category": "general",
            "dispatched_at": t0.isoformat(),
            "reporter": {"name": NAME, "phone": PHONE, "confidential": True},
            "location": {"district": "hexi", "address": "友谊路1号"},
            "subject": "暖气不热",
        }
    )
    order = Order(new, rulebook_for(t0), BusinessCalendar([]), t0)
    assert redact(text, NAME, PHONE) == order._scrub(text)


def test_every_spelling_of_the_phone() -> None:
    """Spaces, dashes and a leading + go with the digits; the name wherever it stands."""
    assert redact(TEXTS[2], NAME, PHONE) == f"请回电 {REDACTED} 或 +86-{REDACTED}"
    assert redact(TEXTS[3], NAME, PHONE) == f"{REDACTED}（{REDACTED}）"
    assert redact("12345 and 1234", "", "1234") == "12345 and 1234"  # too short to be a phone worth finding
