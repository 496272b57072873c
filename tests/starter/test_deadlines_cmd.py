"""`hotline deadlines` and `hotline calendar show|import`, run as a user runs them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from activities.store import calendar_store, rulebooks
from activities.store.db import apply_migrations
from domain.models import Tier
from tests.support.bench import report
from tests.support.deadlines import WORKED_EXAMPLES, loop_deadlines

ROOT = Path(__file__).parents[2]
EXAMPLE_2027 = ROOT / "docs" / "examples" / "calendar-2027.txt"
NO_DATABASE = "postgresql://postgres@127.0.0.1:1/nothing"


def hotline(*args: str, database_url: str = NO_DATABASE, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `hotline ARGS` in a child process, as an operator would."""
    env = {**os.environ, "HOTLINE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def fresh_database(database_url: str) -> str:
    """A new, migrated database of this test's own on the session's server."""
    name = f"cli_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        await calendar_store.seed_from_package(conn)
        await rulebooks.seed_from_package(conn)
    finally:
        await conn.close()
    return url


@pytest.fixture
async def db_url(database_url: str) -> str:
    return await fresh_database(database_url)


class TestDeadlines:
    def test_one_order(self) -> None:
        """One JSON object with both deadlines in +08:00, their explanations and the rulebook."""
        r = hotline("deadlines", "--tier", "very_urgent", "--dispatched-at", "2026-03-06T16:00+08:00")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["receipt_due"] == "2026-03-09T12:00:00+08:00"
        assert out["completion_due"] == "2026-03-10T00:00:00+08:00"
        assert out["receipt_explanation"].startswith("receipt: dispatched Fri 2026-03-06 16:00")
        assert "1 working day" in out["completion_explanation"]
        assert out["calendar_confirmed"] is True
        assert out["rulebook"] == "tianjin-2021"
        assert "chinesecalendar package" in r.stderr  # no database: says where the calendar is from

    def test_worked_examples_in_a_batch(self) -> None:
        """All ten worked examples through --batch, answers in input order."""
        lines = [
            json.dumps({"tier": tier, "dispatched_at": t, "category": "general"}) for tier, t, _, _ in WORKED_EXAMPLES
        ]
        r = hotline("deadlines", "--batch", "-", stdin="\n".join(lines) + "\n")
        assert r.returncode == 0, r.stderr
        results = [json.loads(x) for x in r.stdout.splitlines()]
        assert len(results) == len(WORKED_EXAMPLES)
        for (_, _, receipt, completion), got in zip(WORKED_EXAMPLES, results, strict=True):
            assert datetime.fromisoformat(got["receipt_due"]) == datetime.fromisoformat(receipt)
            assert datetime.fromisoformat(got["completion_due"]) == datetime.fromisoformat(completion)
            assert got["receipt_due"].endswith("+08:00")

    def test_bad_lines_do_not_stop_the_batch(self) -> None:
        """Each bad line gets an error object saying what was wrong; the others are answered."""
        lines = [
            '{"tier": "normal", "dispatched_at": "2026-03-06T09:00+08:00"}',
            "not json",
            '{"tier": "normal", "dispatched_at": "2026-03-06T09:00"}',
            '{"tier": "slow", "dispatched_at": "2026-03-06T09:00+08:00"}',
            '{"tier": "normal", "dispatched_at": "2026-02-30T09:00+08:00"}',
            '{"tier": "normal", "dispatched_at": "2026-03-06T09:00+08:00", "category": "water"}',
            '{"tier": "normal"}',
            "",
            '{"tier": "urgent", "dispatched_at": "2026-03-06T14:30+08:00", "category": "gas"}',
        ]
        r = hotline("deadlines", "--batch", "-", "--calendar", "package", stdin="\n".join(lines))
        assert r.returncode == 0
        out = [json.loads(x) for x in r.stdout.splitlines()]
        assert len(out) == len(lines)
        assert out[0]["receipt_due"] == "2026-03-06T12:00:00+08:00"
        assert "JSON" in out[1]["error"]
        assert "naive" in out[2]["error"]
        assert "unknown tier 'slow'; allowed: normal, urgent" in out[3]["error"]
        assert "day is out of range" in out[4]["error"]
        assert "unknown category 'water'; allowed: general, heating" in out[5]["error"]
        assert "dispatched_at: required" in out[6]["error"]
        assert "empty line" in out[7]["error"]
        assert out[8]["receipt_due"] == "2026-03-06T17:30:00+08:00"
        assert "7 line(s) had an error" in r.stderr

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--tier", "normal", "--dispatched-at", "2026-03-06T09:00"], "no offset"),
            (["--tier", "fast", "--dispatched-at", "2026-03-06T09:00+08:00"], "allowed: normal"),
            (["--tier", "normal", "--dispatched-at", "2026-13-06T09:00+08:00"], "not a valid"),
            (["--tier", "normal", "--dispatched-at", "yesterday"], "not a valid instant"),
            (
                [
                    "--tier",
                    "normal",
                    "--dispatched-at",
                    "2026-03-06T09:00+08:00",
                    "--category",
                    "x",
                ],
                "allowed: general, heating, gas, road_bridge",
            ),
            (["--tier", "normal", "--dispatched-at", "2021-04-01T12:00+08:00"], "2021-04-02"),
            (["--tier", "normal"], "give --tier and --dispatched-at"),
        ],
    )
    def test_bad_input_exits_2(self, args: list[str], message: str) -> None:
        """Bad input: exit code 2 and a message naming what was wrong and what is allowed."""
        r = hotline("deadlines", *args)
        assert r.returncode == 2
        assert message in r.stderr
        assert r.stdout == ""

    def test_reads_the_calendar_from_the_database(self, db_url: str) -> None:
        """With a reachable database, its calendar is used: an entered 2027 confirms deadlines."""
        args = ["deadlines", "--tier", "normal", "--dispatched-at", "2026-12-31T10:00+08:00"]
        before = json.loads(hotline(*args, database_url=db_url).stdout)
        assert before["calendar_confirmed"] is False
        assert before["completion_due"] == "2027-01-09T00:00:00+08:00"
        imported = hotline("calendar", "import", str(EXAMPLE_2027), "--by", "t", database_url=db_url)
        assert imported.returncode == 0, imported.stderr
        r = hotline(*args, database_url=db_url)
        after = json.loads(r.stdout)
        assert r.stderr == ""
        assert after["calendar_confirmed"] is True
        assert after["completion_due"] == "2027-01-12T00:00:00+08:00"  # 1/1-1/3 off in the file


class TestCalendarCommands:
    def test_show_2026(self, db_url: str) -> None:
        """Working days, holidays, make-up days, breaks with their lengths, who entered it."""
        r = hotline("calendar", "show", "2026", database_url=db_url)
        assert r.returncode == 0, r.stderr
        assert "version 1, entered by seed" in r.stdout
        assert "working days: 248" in r.stdout
        assert "Sat 2026-10-10" in r.stdout
        assert "2026-02-15..2026-02-23   9 days  long   Spring Festival" in r.stdout
        assert "2026-06-19..2026-06-21   3 days  short  Dragon Boat Festival" in r.stdout

    def test_show_unknown_year(self) -> None:
        """An unknown year says it falls back to Monday-Friday and is unconfirmed."""
        r = hotline("calendar", "show", "2027")
        assert r.returncode == 0
        assert "working days: 261" in r.stdout
        assert "not known" in r.stdout
        assert "calendar_confirmed: false" in r.stdout

    def test_import_and_reimport(self, db_url: str) -> None:
        """A new year is version 1; importing it again says it replaced version 1."""
        first = hotline("calendar", "import", str(EXAMPLE_2027), "--by", "Wang", database_url=db_url)
        assert first.returncode == 0, first.stderr
        assert "stored as version 1 (by Wang); the year was not known before" in first.stdout
        again = hotline("calendar", "import", str(EXAMPLE_2027), "--by", "Li", database_url=db_url)
        assert "stored as version 2 (by Li); it replaced version 1" in again.stdout
        shown = hotline("calendar", "show", "2027", database_url=db_url)
        assert "version 2, entered by Li" in shown.stdout

    async def test_bad_file_is_refused_whole(self, db_url: str, tmp_path: Path) -> None:
        """A file with an error: exit 2, every problem with its line, and nothing changes."""
        bad = tmp_path / "bad.txt"
        bad.write_text(
            "year 2027\nholiday 2027-01-01..2027-01-03 New Year\nworkday 2027-01-04 X\nholiday 2027-02-30 Y\n",
            encoding="utf-8",
        )
        r = hotline("calendar", "import", str(bad), "--by", "t", database_url=db_url)
        assert r.returncode == 2
        assert f"{bad}:3: 2027-01-04 is a weekday (Mon)" in r.stderr
        assert f"{bad}:4: '2027-02-30' is not a date" in r.stderr
        assert "nothing was imported" in r.stderr
        conn = await asyncpg.connect(db_url)
        try:
            assert await calendar_store.year_versions(conn, 2027) == []
        finally:
            await conn.close()

    @pytest.mark.parametrize("content", [None, b"year 2027\nholiday 2027-01-01 \xff\n"])
    def test_unreadable_file(self, tmp_path: Path, content: bytes | None) -> None:
        """A missing or non-UTF-8 file: exit 2 naming the file."""
        path = tmp_path / "cal.txt"
        if content is not None:
            path.write_bytes(content)
        r = hotline("calendar", "import", str(path))
        assert r.returncode == 2
        assert str(path) in r.stderr

    def test_import_needs_the_database(self) -> None:
        """Without a database the import is refused (exit 1) and says nothing was imported."""
        r = hotline("calendar", "import", str(EXAMPLE_2027), "--by", "t")
        assert r.returncode == 1
        assert "needs the database" in r.stderr
        assert "nothing was imported" in r.stderr


@pytest.mark.bench
def test_batch_rate() -> None:
    """`hotline deadlines --batch -` answers 100,000 random orders at least 5x the rate of a
    straightforward day-by-day loop over the calendar package, measured in the same run."""
    rnd = random.Random(20261127)
    start = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    tiers = ["normal", "urgent", "very_urgent", "extra_urgent"]
    orders = [(rnd.choice(tiers), start + timedelta(seconds=rnd.randrange(2 * 365 * 86400))) for _ in range(100_000)]
    lines = [json.dumps({"tier": tier, "dispatched_at": t.isoformat()}) for tier, t in orders]
    t0 = time.perf_counter()
    r = hotline("deadlines", "--batch", "-", "--calendar", "package", stdin="\n".join(lines))
    took = time.perf_counter() - t0
    assert r.returncode == 0
    answers = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(answers) == len(lines)
    rate = len(lines) / took

    sample = orders[:5000]
    t0 = time.perf_counter()
    expected = [loop_deadlines(Tier(tier), t) for tier, t in sample]
    loop_rate = len(sample) / (time.perf_counter() - t0)
    for (receipt, completion), answer in zip(expected, answers, strict=False):
        assert (answer["receipt_due"], answer["completion_due"]) == (receipt.isoformat(), completion.isoformat())
    print(
        f"\nhotline deadlines --batch: {len(lines)} orders in {took:.2f}s = {rate:,.0f}/s (process start included); "
        f"day-by-day loop over chinese_calendar: {loop_rate:,.0f}/s; ratio {rate / loop_rate:.1f}x"
    )
    report("deadlines_batch", orders=len(lines), rate=rate, loop_orders=len(sample), loop_rate=loop_rate)
    assert rate >= 5 * loop_rate
