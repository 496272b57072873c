"""`hotline rulebook list|show|import` and `hotline deadlines` on the imported versions, run as a user runs them."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from activities.store import rulebooks
from domain.calendar import SHANGHAI
from domain.models import Category, Tier
from domain.rulebook import TIANJIN_2021, Rulebook, StepWindow, WindowOverrides, parse_rulebook
from tests.support.rulebooks import ROOT, SHIPPED, hotline, new_database, successor_file, write_file

NO_DATABASE = "postgresql://postgres@127.0.0.1:1/nothing"
#: A date the successor may take effect on: today or later (local), and inside the known calendar.
SOON = datetime.now(SHANGHAI).date() + timedelta(days=10)


@pytest.fixture
async def db_url(database_url: str) -> str:
    """A database of the test's own, migrated and seeded (tianjin-2021 from the package)."""
    return await new_database(database_url)


async def stored_ids(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [v.id for v in await rulebooks.list_versions(conn)]
    finally:
        await conn.close()


def one_line(stderr: str) -> str:
    """The refusal: exactly one line."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


class TestListAndShow:
    def test_list_marks_the_version_in_force(self, db_url: str) -> None:
        """tianjin-2021, entered by the seed, in force today although past its nominal end."""
        r = hotline("rulebook", "list", database_url=db_url)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        assert "* tianjin-2021" in r.stdout
        assert "from 2021-04-02 until a successor takes effect; nominal end 2024-04-02; entered by seed" in r.stdout
        assert "in force today" in r.stdout
        assert "past its nominal end 2024-04-02 (in force until a successor takes effect)" in r.stdout

    def test_show_and_its_json_is_a_rulebook_file(self, db_url: str) -> None:
        """`show` gives the record and the parameters; `--json` a file that parses back to the version."""
        r = hotline("rulebook", "show", "tianjin-2021", database_url=db_url)
        assert r.returncode == 0, r.stderr
        assert "entered by seed" in r.stdout
        assert "source: package domain/rulebooks/tianjin-2021.json" in r.stdout
        assert '"receipt_in_working_period": "PT3H"' in r.stdout
        r = hotline("rulebook", "show", "tianjin-2021", "--json", database_url=db_url)
        assert parse_rulebook(r.stdout) == TIANJIN_2021

    def test_show_unknown(self, db_url: str) -> None:
        r = hotline("rulebook", "show", "beijing-2030", database_url=db_url)
        assert r.returncode == 1
        assert one_line(r.stderr) == "error: no rulebook version 'beijing-2030'; known: tianjin-2021"

    def test_without_a_database_the_package_is_shown(self) -> None:
        r = hotline("rulebook", "list", database_url=NO_DATABASE)
        assert r.returncode == 0
        assert "showing the package's versions" in r.stderr
        assert "* tianjin-2021" in r.stdout
        assert "package domain/rulebooks/tianjin-2021.json" in r.stdout


class TestImport:
    async def test_a_successor_then_the_same_file_again(self, db_url: str, tmp_path: Path) -> None:
        """Imported once: stored with who and where from; again: nothing changes, exit 0."""
        path = write_file(tmp_path, successor_file("tianjin-next", SOON), "tianjin-next.json")
        r = hotline("rulebook", "import", str(path), "--by", "Wang Fang", "--note", "test", database_url=db_url)
        assert r.returncode == 0, r.stderr
        assert f"rulebook tianjin-next: stored (by Wang Fang, from tianjin-next.json); in force from {SOON}" in r.stdout
        assert await stored_ids(db_url) == ["tianjin-2021", "tianjin-next"]
        again = hotline("rulebook", "import", str(path), "--by", "Li", database_url=db_url)
        assert again.returncode == 0, again.stderr
        assert "already stored with the same content (entered by Wang Fang" in again.stdout
        assert "nothing changed" in again.stdout
        assert await stored_ids(db_url) == ["tianjin-2021", "tianjin-next"]
        listed = hotline("rulebook", "list", database_url=db_url).stdout
        assert f"tianjin-2021         from 2021-04-02 until {SOON} (tianjin-next)" in listed
        shown = hotline("rulebook", "show", "tianjin-next", database_url=db_url).stdout
        assert "succeeds tianjin-2021" in shown
        assert "entered by Wang Fang" in shown
        assert "note: test" in shown

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("{", "not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
            ("[]", "a rulebook file is one JSON object"),
            (successor_file("x", SOON, holidays=3), "holidays: unknown field"),
            (successor_file("x", SOON, return_window="8 hours"), 'return_window: "8 hours" is not a duration'),
            (successor_file("x", SOON, return_window=28800), "return_window: 28800 is not a duration"),
            (successor_file("x", SOON, return_window="PT0S"), "return_window must be positive"),
            (
                successor_file("x", SOON, long_break_min_days="5"),
                "long_break_min_days: Input should be a valid integer",
            ),
            (successor_file("Tianjin 2027", SOON), "id: String should match pattern"),
            (
                {**successor_file("x", SOON), "effective_from": "2027-1-1"},
                "effective_from: Input should be a valid date",
            ),
            (successor_file("x", SOON, nominal_end=SOON.isoformat()), "nominal_end must be after effective_from"),
            (
                successor_file("x", SOON, category_overrides={"gas": {"completion_working_days": {"extra_urgent": 1}}}),
                "category_overrides.gas: extra_urgent completes by extra_urgent_completion",
            ),
            (successor_file("x", SOON, category_overrides={"water": {}}), "category_overrides.water: Input should be"),
        ],
    )
    async def test_a_bad_file_is_refused_in_one_line(
        self, db_url: str, tmp_path: Path, content: object, message: str
    ) -> None:
        """A file that breaks the format: exit 2, one line naming the file and what is wrong; nothing stored."""
        path = write_file(tmp_path, content if isinstance(content, str) else json.loads(json.dumps(content)))
        r = hotline("rulebook", "import", str(path), database_url=db_url)
        assert r.returncode == 2, r.stdout
        line = one_line(r.stderr)
        assert line.startswith(f"error: {path}: ")
        assert message in line
        assert line.endswith("; nothing was imported")
        assert await stored_ids(db_url) == ["tianjin-2021"]

    def test_unreadable_files(self, tmp_path: Path) -> None:
        """A missing file or one that is not UTF-8: exit 2, naming the file, before the database is asked."""
        missing = tmp_path / "missing.json"
        r = hotline("rulebook", "import", str(missing), database_url=NO_DATABASE)
        assert r.returncode == 2
        assert str(missing) in one_line(r.stderr)
        latin = tmp_path / "latin.json"
        latin.write_bytes(b'{"id": "x", "title": "\xff"}')
        r = hotline("rulebook", "import", str(latin), database_url=NO_DATABASE)
        assert r.returncode == 2
        assert f"error: {latin}: not UTF-8 text" in one_line(r.stderr)

    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            (
                successor_file("tianjin-2021", SOON),
                "the id tianjin-2021 is already used by another version (entered by seed",
            ),
            (
                successor_file("tianjin-old", date(2021, 4, 2)),
                "effective_from 2021-04-02 is not after the newest version's (tianjin-2021, in force from 2021-04-02)",
            ),
            (successor_file("tianjin-past", date(2024, 4, 2)), "effective_from 2024-04-02 lies in the past"),
        ],
    )
    async def test_refused_by_the_stored_versions(
        self, db_url: str, tmp_path: Path, doc: dict[str, object], message: str
    ) -> None:
        """A version the stored ones do not admit: exit 1, one line saying why; nothing stored."""
        path = write_file(tmp_path, doc)
        r = hotline("rulebook", "import", str(path), database_url=db_url)
        assert r.returncode == 1, r.stdout
        line = one_line(r.stderr)
        assert line.startswith(f"error: {path}: ")
        assert message in line
        assert await stored_ids(db_url) == ["tianjin-2021"]

    async def test_a_second_successor_must_come_after_the_first(self, db_url: str, tmp_path: Path) -> None:
        first = write_file(tmp_path, successor_file("tianjin-next", SOON + timedelta(days=5)))
        assert hotline("rulebook", "import", str(first), database_url=db_url).returncode == 0
        second = write_file(tmp_path, successor_file("tianjin-other", SOON))
        r = hotline("rulebook", "import", str(second), database_url=db_url)
        assert r.returncode == 1
        assert "is not after the newest version's (tianjin-next" in one_line(r.stderr)

    def test_import_needs_the_database(self, tmp_path: Path) -> None:
        path = write_file(tmp_path, successor_file("tianjin-next", SOON))
        r = hotline("rulebook", "import", str(path), database_url=NO_DATABASE)
        assert r.returncode == 1
        line = one_line(r.stderr)
        assert "needs the database" in line
        assert "nothing was imported" in line

    def test_the_shipped_file_imports_as_a_no_op(self, db_url: str) -> None:
        r = hotline("rulebook", "import", str(SHIPPED), database_url=db_url)
        assert r.returncode == 0, r.stderr
        assert "rulebook tianjin-2021: already stored with the same content (entered by seed" in r.stdout


class TestDeadlinesUseTheVersionInForce:
    async def test_an_imported_successor_governs_from_its_date(self, db_url: str, tmp_path: Path) -> None:
        """Before the successor's date: tianjin-2021 (past its nominal end, said so); from it: the successor."""
        at = datetime(SOON.year, SOON.month, SOON.day, 10, 0, tzinfo=SHANGHAI)
        args = ["deadlines", "--tier", "normal", "--dispatched-at"]
        before_date = (at - timedelta(days=1)).isoformat()
        on_date = at.isoformat()
        old = json.loads(hotline(*args, on_date, database_url=db_url).stdout)
        assert old["rulebook"] == "tianjin-2021"
        assert "past its nominal end 2024-04-02 (Article 14), in force until a successor" in old["receipt_explanation"]

        path = write_file(
            tmp_path,
            successor_file("tianjin-next", SOON, receipt_in_working_period="PT2H", receipt_after_work_start="PT2H"),
        )
        assert hotline("rulebook", "import", str(path), database_url=db_url).returncode == 0

        r = hotline(*args, on_date, database_url=db_url)
        assert r.stderr == ""
        new = json.loads(r.stdout)
        assert new["rulebook"] == "tianjin-next"
        assert "nominal end" not in new["receipt_explanation"]
        assert datetime.fromisoformat(new["receipt_due"]) < datetime.fromisoformat(old["receipt_due"])
        assert json.loads(hotline(*args, before_date, database_url=db_url).stdout)["rulebook"] == "tianjin-2021"

        lines = "\n".join(json.dumps({"tier": "urgent", "dispatched_at": t}) for t in (before_date, on_date))
        batch = hotline("deadlines", "--batch", "-", database_url=db_url, stdin=lines + "\n")
        assert [json.loads(x)["rulebook"] for x in batch.stdout.splitlines()] == ["tianjin-2021", "tianjin-next"]

        package = hotline(*args, on_date, "--calendar", "package", database_url=db_url)
        assert json.loads(package.stdout)["rulebook"] == "tianjin-2021"  # the package knows no successor


class TestTheFormatDoc:
    DOC = (ROOT / "docs" / "rulebook-format.md").read_text(encoding="utf-8")

    def test_names_every_field(self) -> None:
        """docs/rulebook-format.md names every field of the file, at every level."""
        for model in (Rulebook, WindowOverrides, StepWindow):
            for name in model.model_fields:
                assert f"`{name}`" in self.DOC, f"{model.__name__}.{name}"

    def test_the_example_is_a_rulebook_file(self) -> None:
        """The example parses, fits the schema's top level, and sets heating and gas rules."""
        example = ROOT / "docs" / "examples" / "rulebook-2027.json"
        book = parse_rulebook(example.read_text(encoding="utf-8"), source=str(example))
        assert set(book.category_overrides) == {Category.HEATING, Category.GAS}
        assert book.for_category(Category.GAS).working_days_for(Tier.NORMAL) == 2
        assert "docs/examples/rulebook-2027.json" in self.DOC
