"""The log net under the rule that no reporter's name or phone is ever logged (Article 8.2)."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from workers.logging import configure, mask_personal_data, mask_text


class TestMaskText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("reporter 13800000000 called", "reporter 138**** called"),
            ("电话13912345678。", "电话139****。"),
            ("+86 139 1234 5678", "+86****"),
            ("landline 022-23456789", "landline 022****"),
        ],
    )
    def test_phone_numbers_are_masked(self, text: str, expected: str) -> None:
        """Mobile and landline numbers keep only their first three characters."""
        assert mask_text(text) == expected

    @pytest.mark.parametrize("text", ["order TJ2026112700123", "2026112700123", "due 2026-11-27T10:15:00+08:00"])
    def test_order_numbers_and_dates_stay_readable(self, text: str) -> None:
        """Order numbers and instants are not mistaken for phones."""
        assert mask_text(text) == text


class TestProcessor:
    def test_personal_keys_are_starred_at_any_depth(self) -> None:
        """`reporter`, `name`, `phone`, `address` … become *** wherever they are."""
        event = mask_personal_data(
            None,
            "info",
            {"event": "x", "order": {"reporter": {"name": "张三"}, "location": {"address": "友谊路"}}, "phone": "1"},
        )
        assert event == {"event": "x", "order": {"reporter": "***", "location": {"address": "***"}}, "phone": "***"}

    def test_configured_logging_masks_structlog_and_stdlib(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Through the configured pipeline, neither a name key nor a phone in a message survives."""
        configure(fmt="json", level="info")
        structlog.get_logger("t").info("order.note", reporter_name="张三", text="call 13800000000")
        logging.getLogger("temporalio.test").warning("reporter phone 13800000000")
        err = capsys.readouterr().err
        assert "张三" not in err
        assert "13800000000" not in err
        assert "reporter phone 138****" in err  # the stdlib line was written, masked
        line = json.loads(next(x for x in err.splitlines() if "order.note" in x))
        assert line["reporter_name"] == "***"
        structlog.reset_defaults()
        root = logging.getLogger()
        for h in [h for h in root.handlers if type(h).__name__ == "_Handler"]:
            root.removeHandler(h)
