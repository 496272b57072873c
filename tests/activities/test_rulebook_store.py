"""Rulebook versions in PostgreSQL: seeded from the package, entered by operators, never changed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities.orders import OrderActivities
from activities.store import rulebooks
from domain.errors import RulebookError
from domain.models import Tier
from domain.records import OrderRulesRequest
from domain.rulebook import TIANJIN_2021, Rulebook, parse_rulebook, rulebook_digest, rulebook_for
from tests.support.rulebooks import SHIPPED, new_database, successor_file

CST = timezone(timedelta(hours=8))
TODAY = date(2026, 11, 29)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated database of the test's own, nothing seeded."""
    pool = await asyncpg.create_pool(await new_database(database_url, seed=False), min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


def book(book_id: str, effective_from: date, **changes: object) -> tuple[Rulebook, str]:
    """A parsed successor and its file text."""
    text = json.dumps(successor_file(book_id, effective_from, **changes), ensure_ascii=False, indent=2)
    return parse_rulebook(text, source=f"{book_id}.json"), text


async def enter(db: asyncpg.Pool, book_id: str, effective_from: date, **changes: object) -> rulebooks.ImportResult:
    rb, text = book(book_id, effective_from, **changes)
    return await rulebooks.import_rulebook(
        db, rb, original=text, entered_by="Wang Fang", source=f"{book_id}.json", today=TODAY
    )


class TestSeed:
    async def test_seed_stores_the_shipped_versions_once(self, db: asyncpg.Pool) -> None:
        """The package's tianjin-2021 is stored once, by `seed`, from its file; a second seed stores nothing."""
        first = await rulebooks.seed_from_package(db)
        assert first.seeded == ["tianjin-2021"]
        assert first.skipped == {}
        assert (await rulebooks.seed_from_package(db)).seeded == []
        [v] = await rulebooks.list_versions(db)
        assert (v.id, v.effective_from, v.nominal_end) == ("tianjin-2021", date(2021, 4, 2), date(2024, 4, 2))
        assert (v.entered_by, v.source) == ("seed", "package domain/rulebooks/tianjin-2021.json")
        assert v.digest == rulebook_digest(TIANJIN_2021)
        shown = await rulebooks.show(db, "tianjin-2021")
        assert shown is not None
        assert shown.rulebook == TIANJIN_2021
        assert shown.original == SHIPPED.read_text(encoding="utf-8")  # the file as it was entered

    async def test_seed_never_replaces_a_stored_version(self, db: asyncpg.Pool) -> None:
        """Another content under a shipped id is the database's: kept, and the seed says why it skipped."""
        other, text = book("tianjin-2021", date(2021, 4, 2), long_break_min_days=4)
        await rulebooks.import_rulebook(db, other, original=text, entered_by="t", source="f", today=date(2021, 4, 1))
        result = await rulebooks.seed_from_package(db)
        assert result.seeded == []
        assert "another version under the id tianjin-2021" in result.skipped["tianjin-2021"]
        assert (await rulebooks.in_force(db, datetime(2026, 1, 5, tzinfo=CST))).long_break_min_days == 4

    async def test_seed_skips_a_version_not_after_the_newest(self, db: asyncpg.Pool) -> None:
        """A shipped version that would take effect before a stored one is not slipped in under it."""
        await enter(db, "tianjin-2030", date(2030, 1, 1))
        result = await rulebooks.seed_from_package(db)
        assert result.seeded == []
        assert "not after the newest stored version's 2030-01-01" in result.skipped["tianjin-2021"]

    async def test_concurrent_seeds_store_once(self, db: asyncpg.Pool) -> None:
        """Workers starting at once store each version once."""
        results = await asyncio.gather(*(rulebooks.seed_from_package(db) for _ in range(4)))
        assert sorted(len(r.seeded) for r in results) == [0, 0, 0, 1]
        assert len(await rulebooks.list_versions(db)) == 1


@pytest.fixture
async def seeded(db: asyncpg.Pool) -> asyncpg.Pool:
    await rulebooks.seed_from_package(db)
    return db


class TestImport:
    async def test_successor_is_stored_with_who_when_and_source(self, seeded: asyncpg.Pool) -> None:
        """A successor is a new record: who entered it, from which file, its note and its content."""
        rb, text = book("tianjin-2027", date(2027, 1, 1), receipt_in_working_period="PT2H")
        result = await rulebooks.import_rulebook(
            seeded, rb, original=text, entered_by=" Wang Fang ", source="tianjin-2027.json", note="draft 3",
            today=TODAY,
        )  # fmt: skip
        assert result.stored
        assert result.predecessor is not None
        assert result.predecessor.id == "tianjin-2021"
        v = result.version
        assert (v.id, v.entered_by, v.source, v.note) == ("tianjin-2027", "Wang Fang", "tianjin-2027.json", "draft 3")
        assert "in force from 2027-01-01" in result.message
        assert "tianjin-2021 governs orders dispatched before it" in result.message
        assert [x.id for x in await rulebooks.list_versions(seeded)] == ["tianjin-2021", "tianjin-2027"]
        shown = await rulebooks.show(seeded, "tianjin-2027")
        assert shown is not None
        assert shown.rulebook == rb
        assert shown.original == text
        assert shown.predecessor == "tianjin-2021"
        assert shown.successor is None
        old = await rulebooks.show(seeded, "tianjin-2021")
        assert old is not None
        assert old.successor is not None
        assert old.successor.id == "tianjin-2027"

    async def test_same_file_twice_changes_nothing(self, seeded: asyncpg.Pool) -> None:
        """The same version again (however its file is written) stores nothing and says so."""
        first = await enter(seeded, "tianjin-2027", date(2027, 1, 1))
        rb, text = book("tianjin-2027", date(2027, 1, 1))
        again = await rulebooks.import_rulebook(
            seeded, rb, original=json.dumps(json.loads(text)), entered_by="Li", source="other.json", today=TODAY
        )
        assert not again.stored
        assert again.version == first.version  # the first record: by Wang Fang
        assert "already stored with the same content" in again.message
        assert "nothing changed" in again.message
        assert len(await rulebooks.list_versions(seeded)) == 2

    async def test_the_shipped_file_again_changes_nothing(self, seeded: asyncpg.Pool) -> None:
        """Importing tianjin-2021's own file: already stored, even though it took effect in the past."""
        rb = parse_rulebook(SHIPPED.read_text(encoding="utf-8"))
        result = await rulebooks.import_rulebook(seeded, rb, original="", entered_by="t", source="f", today=TODAY)
        assert not result.stored

    async def test_an_id_with_other_content_is_refused(self, seeded: asyncpg.Pool) -> None:
        """A stored version never changes: the same id with other numbers is refused, naming who has it."""
        await enter(seeded, "tianjin-2027", date(2027, 1, 1))
        with pytest.raises(rulebooks.RulebookRefused, match="id tianjin-2027 is already used by another version"):
            await enter(seeded, "tianjin-2027", date(2027, 1, 1), long_break_min_days=4)
        with pytest.raises(rulebooks.RulebookRefused, match="entered by seed"):
            await enter(seeded, "tianjin-2021", date(2027, 6, 1))
        shown = await rulebooks.show(seeded, "tianjin-2027")
        assert shown is not None
        assert shown.rulebook.long_break_min_days == 5

    @pytest.mark.parametrize("effective_from", [date(2027, 1, 1), date(2026, 12, 31)])
    async def test_effective_from_must_be_after_the_newest(self, seeded: asyncpg.Pool, effective_from: date) -> None:
        """A successor takes effect after the newest version: the same date or an earlier one is refused."""
        await enter(seeded, "tianjin-2027", date(2027, 1, 1))
        with pytest.raises(
            rulebooks.RulebookRefused,
            match=r"effective_from .* is not after the newest version's \(tianjin-2027, in force from 2027-01-01\)",
        ):
            await enter(seeded, "tianjin-2027b", effective_from)
        assert len(await rulebooks.list_versions(seeded)) == 2

    async def test_a_version_cannot_govern_the_past(self, seeded: asyncpg.Pool) -> None:
        """effective_from before today is refused (orders since bound their version); today is allowed."""
        with pytest.raises(rulebooks.RulebookRefused, match=r"2026-11-28 lies in the past .*today is 2026-11-29"):
            await enter(seeded, "tianjin-2026", date(2026, 11, 28))
        assert (await enter(seeded, "tianjin-2026", TODAY)).stored

    async def test_who_and_source_are_required(self, seeded: asyncpg.Pool) -> None:
        rb, text = book("tianjin-2027", date(2027, 1, 1))
        with pytest.raises(ValueError, match="entered_by"):
            await rulebooks.import_rulebook(seeded, rb, original=text, entered_by=" ", source="f", today=TODAY)
        with pytest.raises(ValueError, match="source"):
            await rulebooks.import_rulebook(seeded, rb, original=text, entered_by="t", source="", today=TODAY)

    async def test_concurrent_imports_of_one_date_store_one(self, seeded: asyncpg.Pool) -> None:
        """Two operators entering different versions for one date at once: one stored, one refused."""
        results = await asyncio.gather(
            enter(seeded, "tianjin-2027a", date(2027, 1, 1)),
            enter(seeded, "tianjin-2027b", date(2027, 1, 1)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, rulebooks.ImportResult) for r in results) == 1
        assert sum(isinstance(r, rulebooks.RulebookRefused) for r in results) == 1
        assert len(await rulebooks.list_versions(seeded)) == 2


class TestInForce:
    async def test_the_latest_effective_from_on_or_before_the_local_date(self, seeded: asyncpg.Pool) -> None:
        """Asia/Shanghai dates decide: 16:00 UTC on 12-31 is already 2027-01-01 in Tianjin."""
        await enter(
            seeded,
            "tianjin-2027",
            date(2027, 1, 1),
            completion_working_days={"normal": 5, "urgent": 2, "very_urgent": 1},
        )
        await enter(seeded, "tianjin-2028", date(2028, 1, 1))
        cases = [
            (datetime(2021, 4, 2, 0, 0, tzinfo=CST), "tianjin-2021"),
            (datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC), "tianjin-2021"),
            (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "tianjin-2027"),
            (datetime(2027, 12, 31, 23, 59, tzinfo=CST), "tianjin-2027"),
            (datetime(2028, 1, 1, 0, 0, tzinfo=CST), "tianjin-2028"),
            (datetime(2040, 1, 1, tzinfo=CST), "tianjin-2028"),
        ]
        books = await rulebooks.load_rulebooks(seeded)
        assert [b.id for b in books] == ["tianjin-2021", "tianjin-2027", "tianjin-2028"]
        for at, expected in cases:
            got = await rulebooks.in_force(seeded, at)
            assert got.id == expected, at
            assert rulebook_for(at, books=books) == got  # the deadlines command's choice is the same
        assert (await rulebooks.in_force(seeded, datetime(2027, 3, 1, tzinfo=CST))).working_days_for(Tier.NORMAL) == 5

    async def test_tianjin_2021_stays_in_force_past_its_nominal_end(self, seeded: asyncpg.Pool) -> None:
        """Without a successor, tianjin-2021 governs after 2024-04-02 (Article 14 lapsed, nothing replaced it)."""
        rb = await rulebooks.in_force(seeded, datetime(2026, 11, 29, 10, 0, tzinfo=CST))
        assert rb.id == "tianjin-2021"
        assert rb.past_nominal_end(date(2026, 11, 29))

    async def test_before_the_first_version(self, seeded: asyncpg.Pool) -> None:
        with pytest.raises(RulebookError, match="no rulebook in force on 2021-04-01; the first version takes effect"):
            await rulebooks.in_force(seeded, datetime(2021, 4, 1, 23, 0, tzinfo=CST))

    async def test_nothing_stored(self, db: asyncpg.Pool) -> None:
        with pytest.raises(RulebookError, match="no rulebook version is stored"):
            await rulebooks.in_force(db, datetime(2026, 1, 1, tzinfo=CST))


class TestLoadOrderRules:
    """The activity `WorkOrder` calls at start binds the version in force from PostgreSQL."""

    async def test_binds_the_version_in_force_at_the_transfer(self, seeded: asyncpg.Pool) -> None:
        await enter(seeded, "tianjin-2027", date(2027, 1, 1), return_window="PT4H")
        acts = OrderActivities(seeded)
        before = await acts.load_order_rules(
            OrderRulesRequest(at=datetime(2026, 12, 31, 23, 0, tzinfo=CST), years=[2026])
        )
        after = await acts.load_order_rules(OrderRulesRequest(at=datetime(2027, 1, 1, 0, 0, tzinfo=CST), years=[2027]))
        assert before.rulebook == TIANJIN_2021
        assert [y.year for y in before.years] == []  # this database holds no calendar
        assert (after.rulebook.id, after.rulebook.return_window) == ("tianjin-2027", timedelta(hours=4))

    async def test_no_version_in_force_is_final(self, seeded: asyncpg.Pool) -> None:
        """An order dispatched before the first version fails its start for good (no retry)."""
        with pytest.raises(ApplicationError) as err:
            await OrderActivities(seeded).load_order_rules(
                OrderRulesRequest(at=datetime(2020, 1, 1, tzinfo=CST), years=[2020])
            )
        assert err.value.non_retryable
        assert err.value.type == "RulebookError"

    async def test_nothing_stored_takes_the_package_first(self, db: asyncpg.Pool) -> None:
        """A database without versions (a worker that did not seed) stores the package's and binds from them."""
        rules = await OrderActivities(db).load_order_rules(
            OrderRulesRequest(at=datetime(2026, 1, 1, tzinfo=CST), years=[])
        )
        assert rules.rulebook == TIANJIN_2021
        [v] = await rulebooks.list_versions(db)
        assert (v.id, v.entered_by) == ("tianjin-2021", "seed")
