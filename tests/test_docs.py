"""The project's own documents tell the truth: docs/rules.md's worked examples, and no pointer outside the project."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Final

import pytest

from activities.store.calendar_data import package_calendar
from domain.deadlines import completion_deadline, receipt_deadline
from domain.models import Tier
from domain.rulebook import rulebook_for
from tests.support.deadlines import WORKED_EXAMPLES

ROOT: Final = Path(__file__).resolve().parents[1]
RULES: Final = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")

#: What a user who clones the project reads: the README, docs/ and the product's code.
OWN: Final = ("README.md", "docs", "domain", "workflows", "activities", "starter", "workers", "schemas", "examples")


def worked_examples() -> list[tuple[str, str, str, str]]:
    """(tier, t, receipt due, completion due) of each row of docs/rules.md's worked examples."""
    section = RULES.split("## Worked examples", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in {t.value for t in Tier}:
            rows.append((cells[0], cells[1].split(" ", 1)[0], cells[2], cells[3]))
    return rows


def test_the_worked_examples_are_the_tested_ones() -> None:
    """docs/rules.md shows the ten examples the deadline tests check, no more, no fewer."""
    assert worked_examples() == WORKED_EXAMPLES


@pytest.mark.parametrize(("tier", "t", "receipt", "completion"), worked_examples())
def test_each_worked_example_is_what_the_code_computes(tier: str, t: str, receipt: str, completion: str) -> None:
    """Both deadlines of the row, to the minute and the offset, from the rulebook in force and the package calendar."""
    at = datetime.fromisoformat(t)
    book, calendar = rulebook_for(at), package_calendar()
    r = receipt_deadline(book, calendar, at, tier=Tier(tier))
    c = completion_deadline(book, calendar, at, tier=Tier(tier))
    assert r.due.isoformat(timespec="minutes") == receipt
    assert c.due.isoformat(timespec="minutes") == completion


def test_the_explanation_quoted_is_the_code_s() -> None:
    """The receipt explanation docs/rules.md quotes is, word for word, what the code says."""
    at = datetime.fromisoformat("2026-09-30T16:30+08:00")
    r = receipt_deadline(rulebook_for(at), package_calendar(), at, tier=Tier.NORMAL)
    quoted = re.search(r"```\n(receipt: dispatched Wed 2026-09-30 16:30.*?)\n```", RULES, re.DOTALL)
    assert quoted
    assert r.explanation.startswith(" ".join(quoted.group(1).split()))


def test_nothing_points_outside_the_project() -> None:
    """Nothing a user gets points at ../shared/ or its rulebook.md (the project's rules are docs/rules.md)."""
    files = subprocess.run(
        ["git", "ls-files", "--", *OWN], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    outside = re.compile(r"\.\./shared|(?<![\w/-])rulebook\.md")
    found = [
        f"{name}:{n}: {line.strip()}"
        for name in files
        if name.endswith((".md", ".py", ".json", ".txt", ".sql"))
        for n, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), start=1)
        if outside.search(line)
    ]
    assert not found, "\n".join(found)
