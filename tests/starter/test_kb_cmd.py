"""`hotline kb submit|list` and the city hotline's consumer (`hotline outbox claim hotline`), run as people run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.rulebooks import hotline, new_database


@pytest.fixture
async def db_url(database_url: str) -> str:
    return await new_database(database_url, prefix="kbcli")


def test_submit_twice_then_the_hotline_claims_it_once(db_url: str, tmp_path: Path) -> None:
    """The same training material submitted twice: one entry; the consumer gets one `training_material`
    message with who, title, content and month; `kb list` shows it claimed."""
    material = tmp_path / "training.md"
    material.write_text("# 十一月培训\n路灯报修流程\n", encoding="utf-8")
    submit = ["kb", "submit", "dept-lighting", "--kind", "training", "--title", "十一月培训", "--file", str(material)]
    first = hotline(*submit, "--month", "2026-11", "--by", "张科", database_url=db_url)
    assert first.returncode == 0, first.stderr
    assert "submitted #" in first.stdout
    assert "sent to the city hotline as message" in first.stdout
    again = hotline(*submit, "--month", "2026-11", "--by", "李", database_url=db_url)
    assert again.returncode == 0, again.stderr
    assert "already submitted as #" in again.stdout
    assert "by 张科" in again.stdout
    assert "nothing stored or sent again" in again.stdout

    claimed = hotline("outbox", "claim", "hotline", "--consumer", "city-hotline", "--limit", "10", database_url=db_url)
    assert claimed.returncode == 0, claimed.stderr
    [line] = claimed.stdout.splitlines()
    message = json.loads(line)
    assert message["kind"] == "training_material"
    payload = message["payload"]
    assert (payload["org"], payload["submitted_by"], payload["title"], payload["month"]) == (
        "dept-lighting",
        "张科",
        "十一月培训",
        "2026-11",
    )
    assert payload["content"] == "# 十一月培训\n路灯报修流程\n"

    listed = hotline("kb", "list", database_url=db_url)
    assert listed.returncode == 0, listed.stderr
    assert "training   claimed  十一月培训" in listed.stdout
    assert "1 submission(s)" in listed.stdout

    third = hotline(*submit, "--month", "2026-11", database_url=db_url)
    assert "already submitted" in third.stdout
    nothing = hotline("outbox", "claim", "hotline", "--consumer", "other", database_url=db_url)
    assert nothing.stdout == ""  # the claimed message is not handed to anyone else, and no new one came
