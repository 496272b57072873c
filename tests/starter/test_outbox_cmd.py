"""`hotline outbox claim|ack|list`, run as a consumer or an operator runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import asyncpg
import pytest

from activities.store.db import create_pool
from tests.support.outbox import add_hotline_messages, add_notifications, fresh_database, migrated_template

ROOT = Path(__file__).parents[2]
HOTLINE = Path(sys.executable).with_name("hotline")  # .venv/bin/hotline
NO_DATABASE = "postgresql://postgres@127.0.0.1:1/nothing"


class Run(NamedTuple):
    code: int
    out: str
    err: str


async def hotline(*args: str, database_url: str = NO_DATABASE) -> Run:
    """Run `hotline outbox ARGS` in a child process with HOTLINE_DATABASE_URL set."""
    proc = await asyncio.create_subprocess_exec(
        str(HOTLINE),
        "outbox",
        *args,
        cwd=ROOT,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


class Db(NamedTuple):
    url: str
    pool: asyncpg.Pool


@pytest.fixture(scope="session")
async def cli_template(database_url: str) -> str:
    return await migrated_template(database_url)


@pytest.fixture
async def db(database_url: str, cli_template: str) -> AsyncIterator[Db]:
    """An empty, migrated database of this test's own: its URL for the CLI, a pool for the test."""
    url = await fresh_database(database_url, cli_template)
    pool = await create_pool(url, max_size=4)
    yield Db(url, pool)
    await pool.close()


def ndjson(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


class TestClaim:
    async def test_prints_ndjson_oldest_first(self, db: Db) -> None:
        """Each claimed message is one JSON line with its id, order, route, body and claim."""
        ids = await add_notifications(db.pool, 3, order_no="TJ7")
        r = await hotline("claim", "notifications", "--consumer", "sms", "--limit", "2", database_url=db.url)
        assert r.code == 0, r.err
        lines = ndjson(r.out)
        assert [m["id"] for m in lines] == ids[:2]
        first = lines[0]
        assert first["box"] == "notifications"
        assert first["order_no"] == "TJ7"
        assert first["route"] == "dept-lighting"
        assert first["claimed_by"] == "sms"
        assert first["state"] == "claimed"
        assert str(first["body"]).startswith("查收期限将至")
        assert "claimed 2 message(s) for sms until" in r.err

    async def test_nothing_pending(self, db: Db) -> None:
        """No pending message: no output line, exit 0."""
        r = await hotline("claim", "hotline", "--consumer", "gw", database_url=db.url)
        assert r.code == 0, r.err
        assert r.out == ""
        assert "claimed 0 message(s)" in r.err

    async def test_hotline_message_with_payload_and_recipient_filter(self, db: Db) -> None:
        """Hotline messages carry their payload; --recipient duty:ORG takes only on-duty notifications."""
        [hid] = await add_hotline_messages(db.pool, 1, order_no="TJ8")
        await add_notifications(db.pool, 1, recipient="district-hexi")
        duty = await add_notifications(db.pool, 1, recipient="district-hexi", duty=True)
        r = await hotline("claim", "hotline", "--consumer", "gw", database_url=db.url)
        [m] = ndjson(r.out)
        assert m["id"] == hid
        assert m["payload"] == {"order_no": "TJ8", "result": "已修复", "seq": 1}
        r = await hotline(
            "claim", "notifications", "--consumer", "duty", "--recipient", "duty:district-hexi", database_url=db.url
        )
        assert [m["id"] for m in ndjson(r.out)] == duty
        assert ndjson(r.out)[0]["duty_contact"] == "值班员"

    async def test_concurrent_consumers(self, db: Db) -> None:
        """Four claim processes at once, two consumer names: every message handed out exactly once."""
        ids = await add_notifications(db.pool, 60)
        runs = await asyncio.gather(
            *(
                hotline("claim", "notifications", "--consumer", name, "--limit", "20", database_url=db.url)
                for name in ("a", "b", "a", "b")
            )
        )
        got = [int(str(m["id"])) for r in runs for m in ndjson(r.out)]
        assert sorted(got) == ids

    async def test_lease_runs_out(self, db: Db) -> None:
        """Claimed with --lease 3 and not acknowledged, the message goes to the next consumer.

        (Three seconds leave room for a loaded machine to start the second command within the lease.)
        """
        [mid] = await add_hotline_messages(db.pool, 1)
        r = await hotline("claim", "hotline", "--consumer", "a", "--lease", "3", database_url=db.url)
        assert [m["id"] for m in ndjson(r.out)] == [mid]
        until = await db.pool.fetchval("SELECT claimed_until FROM hotline_outbox WHERE id = $1", mid)
        assert (await hotline("claim", "hotline", "--consumer", "b", database_url=db.url)).out == ""
        left = await db.pool.fetchval("SELECT extract(epoch FROM $1::timestamptz - now())", until)
        await asyncio.sleep(max(0.0, float(left)) + 0.2)
        r = await hotline("claim", "hotline", "--consumer", "b", database_url=db.url)
        assert [m["id"] for m in ndjson(r.out)] == [mid]


class TestAck:
    async def test_ack_then_never_again(self, db: Db) -> None:
        """ack prints what it acknowledged; the messages are not claimed again; a retry is fine."""
        ids = await add_notifications(db.pool, 2)
        await hotline("claim", "notifications", "--consumer", "sms", database_url=db.url)
        r = await hotline("ack", "notifications", "--consumer", "sms", *map(str, ids), database_url=db.url)
        assert r.code == 0, r.err
        assert f"acknowledged 2 message(s) for sms: {ids[0]}, {ids[1]}" in r.out
        await db.pool.execute("UPDATE notification_outbox SET claimed_until = now() - interval '1 hour'")
        assert (await hotline("claim", "notifications", "--consumer", "x", database_url=db.url)).out == ""
        r = await hotline("ack", "notifications", "--consumer", "sms", str(ids[0]), database_url=db.url)
        assert r.code == 0, r.err
        assert "already acknowledged by sms" in r.out

    async def test_refusals_exit_1_saying_why(self, db: Db) -> None:
        """Another consumer's message, an unclaimed one and an unknown id: exit 1, one reason each."""
        claimed, unclaimed = await add_notifications(db.pool, 2)
        await hotline("claim", "notifications", "--consumer", "a", "--limit", "1", database_url=db.url)
        unknown = unclaimed + 50
        r = await hotline(
            "ack", "notifications", "--consumer", "b", str(claimed), str(unclaimed), str(unknown), database_url=db.url
        )
        assert r.code == 1
        assert "acknowledged 0 message(s) for b: none" in r.out
        assert r.err.splitlines() == [
            f"not acknowledged: {claimed}: claimed by a, not by b",
            f"not acknowledged: {unclaimed}: not claimed by b; nobody holds it (claim it first)",
            f"not acknowledged: {unknown}: no such message",
        ]
        assert await db.pool.fetchval("SELECT count(*) FROM notification_outbox WHERE acked_at IS NOT NULL") == 0


class TestList:
    async def test_table(self, db: Db) -> None:
        """A table with a header, one row per message with its state, times in +08:00, filters applied."""
        a = await add_notifications(db.pool, 2, order_no="TJ-A")
        b = await add_notifications(db.pool, 1, order_no="TJ-B", recipient="district-hexi", duty=True)
        await hotline("claim", "notifications", "--consumer", "sms", "--limit", "1", database_url=db.url)
        r = await hotline("list", "notifications", database_url=db.url)
        assert r.code == 0, r.err
        lines = r.out.splitlines()
        assert lines[0].split() == [
            "id",
            "state",
            "order",
            "kind",
            "route",
            "due",
            "event_at",
            "claimed_by",
            "claimed_until",
            "acked_at",
            "body",
        ]
        assert lines[1].split()[:5] == [str(a[0]), "claimed", "TJ-A", "receipt_warning", "dept-lighting"]
        assert lines[2].split()[:3] == [str(a[1]), "pending", "TJ-A"]
        assert lines[3].split()[:5] == [str(b[0]), "pending", "TJ-B", "receipt_warning", "duty:district-hexi"]
        assert "2026-11-27T10:15:00+08:00" in lines[1]  # event_at, shown in Beijing time
        assert lines[-1] == "3 message(s)"
        r = await hotline("list", "notifications", "--state", "pending", "--order", "TJ-A", database_url=db.url)
        assert [line.split()[0] for line in r.out.splitlines()[1:-1]] == [str(a[1])]
        r = await hotline("list", "notifications", "--limit", "1", database_url=db.url)
        assert r.out.splitlines()[-1] == "1 message(s) (the limit; --limit shows more)"

    async def test_hotline_box_and_empty(self, db: Db) -> None:
        """The hotline box has no route or due column; an empty list says 0."""
        r = await hotline("list", "hotline", database_url=db.url)
        assert r.code == 0, r.err
        assert r.out.splitlines()[-1] == "0 message(s)"
        await add_hotline_messages(db.pool, 1)
        r = await hotline("list", "hotline", "--state", "pending", database_url=db.url)
        header = r.out.splitlines()[0].split()
        assert "route" not in header
        assert header[:4] == ["id", "state", "order", "kind"]


#: (arguments, what stderr must say): each wrong argument is named.
BAD_ARGUMENTS = [
    (["claim", "letters", "--consumer", "a"], "argument box: invalid choice: 'letters'"),
    (["list", "sms"], "argument box: invalid choice: 'sms'"),
    (["claim", "hotline"], "the following arguments are required: --consumer"),
    (["claim", "hotline", "--consumer", ""], "argument --consumer: must not be empty"),
    (["claim", "hotline", "--consumer", "a", "--limit", "0"], "argument --limit: '0' is not positive"),
    (["claim", "hotline", "--consumer", "a", "--limit", "-3"], "argument --limit"),
    (["claim", "hotline", "--consumer", "a", "--limit", "ten"], "argument --limit: 'ten' is not a whole"),
    (["list", "hotline", "--limit", "0"], "argument --limit: '0' is not positive"),
    (["claim", "hotline", "--consumer", "a", "--lease", "0"], "argument --lease: '0' is out of range"),
    (["claim", "hotline", "--consumer", "a", "--lease", "-5"], "argument --lease"),
    (["claim", "hotline", "--consumer", "a", "--lease", "soon"], "argument --lease: 'soon' is not a number"),
    (["ack", "hotline", "--consumer", "a", "12", "x7"], "argument ID: 'x7' is not a message id"),
    (["ack", "hotline", "--consumer", "a", "0"], "argument ID: '0' is not a message id"),
    (["ack", "hotline", "--consumer", "a"], "the following arguments are required: ID"),
    (["list", "hotline", "--state", "lost"], "argument --state: invalid choice: 'lost'"),
    (["claim", "hotline", "--consumer", "a", "--recipient", "dept-roads"], "argument --recipient: only"),
    (["list", "hotline", "--recipient", "dept-roads"], "argument --recipient: only"),
]


class TestErrors:
    async def test_bad_arguments_exit_2_before_the_database(self) -> None:
        """Exit 2 naming the wrong argument; the (unreachable) database is never tried.

        The cases run as concurrent processes (each takes a third of a second to start).
        """
        runs = await asyncio.gather(*(hotline(*args) for args, _ in BAD_ARGUMENTS))
        wrong = [
            f"{' '.join(args)!r}: exit {r.code}, stderr {r.err!r}"
            for (args, named), r in zip(BAD_ARGUMENTS, runs, strict=True)
            if r.code != 2 or named not in r.err or "cannot reach the database" in r.err or r.out
        ]
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize(
        "args",
        [
            ["claim", "notifications", "--consumer", "a"],
            ["ack", "hotline", "--consumer", "a", "1"],
            ["list", "hotline"],
        ],
    )
    async def test_unreachable_database_one_line_exit_1(self, args: list[str]) -> None:
        """A database that does not answer: one line naming it and the setting, exit 1."""
        r = await hotline(*args)
        assert r.code == 1
        assert r.err.count("\n") == 1
        assert r.err.startswith("hotline outbox: cannot reach the database at postgresql://postgres@127.0.0.1:1/")
        assert "HOTLINE_DATABASE_URL" in r.err
        assert r.out == ""
