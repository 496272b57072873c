"""`hotline stats | assess | bulletin`, run as an operator runs them: exit codes and output."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.assessment import Figures
from starter.cli import run
from starter.cli.reports import FIGURE_LABELS
from tests.support.stats import MARCH_TOTAL, Db, march

__all__ = ["march"]  # the fixture, imported for this module

ROOT = Path(__file__).parents[2]
NO_DATABASE = "postgresql://postgres@127.0.0.1:1/nothing"


def hotline(*args: str, database_url: str = NO_DATABASE, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run `hotline ARGS` in a child process with HOTLINE_DATABASE_URL set."""
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        cwd=cwd,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def exit_code(argv: list[str]) -> int:
    """Run in this process; argparse's exit counts as the code it exits with."""
    try:
        return run(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2


def test_every_figure_has_its_line() -> None:
    """The table, the CSV header and `Figures` name the same figures, in the table's order."""
    assert list(FIGURE_LABELS) == list(Figures.model_fields)


class TestBadInput:
    """Bad arguments exit 2 with a message, before the (unreachable) database is tried."""

    @pytest.fixture(autouse=True)
    def _no_database(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOTLINE_DATABASE_URL", NO_DATABASE)

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["stats", "--from", "2026-02-30", "--to", "2026-03-31"], "'2026-02-30' is not a date"),
            (["stats", "--from", "March", "--to", "2026-03-31"], "allowed: YYYY-MM-DD"),
            (["stats", "--from", "2026-03-31", "--to", "2026-03-01"], "--from 2026-03-31 is after --to 2026-03-01"),
            (["stats", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "week"], "invalid choice: 'week'"),
            (["stats", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xml"], "invalid choice: 'xml'"),
            (["stats", "--to", "2026-03-31"], "--from"),
            (["assess", "--month", "2026-13"], "'2026-13' is not a month; allowed: YYYY-MM"),
            (["assess", "--month", "2026-3"], "is not a month"),
            (["assess", "--month", "2021-03"], "no assessment version applies to 2021-03"),
            (["bulletin", "--month", "March"], "is not a month"),
            (["bulletin", "--month", "2020-12"], "the first, tianjin-assessment-2021, applies from 2021-04"),
        ],
    )
    def test_exit_2_with_a_message(self, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
        """The message names what was wrong and what is allowed."""
        assert exit_code(argv) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "cannot reach the database" not in err

    def test_out_is_a_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`--out` must be a directory."""
        file = tmp_path / "f.txt"
        file.write_text("x")
        assert exit_code(["bulletin", "--month", "2026-03", "--out", str(file)]) == 2
        assert "is a file; allowed: a directory" in capsys.readouterr().err


class TestDatabaseUnreachable:
    @pytest.mark.parametrize(
        "argv",
        [
            ["stats", "--from", "2026-03-01", "--to", "2026-03-31"],
            ["assess", "--month", "2026-03"],
            ["bulletin", "--month", "2026-03", "--out", "OUT"],
        ],
    )
    def test_one_line_and_exit_1(self, argv: list[str], tmp_path: Path) -> None:
        """One line naming the database (and the setting), exit 1; no traceback, no file."""
        argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
        r = hotline(*argv)
        assert r.returncode == 1, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert (
            "cannot reach the database at postgresql://postgres@127.0.0.1:1/nothing (HOTLINE_DATABASE_URL)" in lines[0]
        )
        assert r.stdout == ""
        assert not list(tmp_path.glob("out/*"))


class TestAgainstMarch:
    def test_stats_json(self, march: Db) -> None:
        """The JSON report carries the figures counted by hand (now is the real clock here)."""
        r = hotline("stats", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json", database_url=march.url)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert (report["period"], report["by"], report["rows"]) == (
            {"first": "2026-03-01", "last": "2026-03-31"},
            "total",
            [],
        )
        total = Figures.model_validate(report["total"])
        assert total.model_copy(update={"open_now": 0, "late_now": 0}) == MARCH_TOTAL.model_copy(
            update={"open_now": 0, "late_now": 0}
        )

    def test_stats_csv_by_unit(self, march: Db) -> None:
        """One CSV row per unit and a total row; the header names every figure."""
        r = hotline("stats", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "unit", "--format", "csv",
                    database_url=march.url)  # fmt: skip
        assert r.returncode == 0, r.stderr
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        by_unit = {row["unit"]: row for row in rows}
        assert by_unit["dept-roads"]["returns"] == "1"
        assert by_unit["district-hexi"]["dissatisfied_excused"] == "1"
        assert by_unit["-"]["received"] == "3"
        assert by_unit["total"]["received"] == "13"
        assert by_unit["total"]["median_handling_hours"] == "96.0"

    def test_stats_table(self, march: Db) -> None:
        """Figures down, groups across, the total last."""
        r = hotline("stats", "--from", "2026-03-01", "--to", "2026-03-31", "--by", "platform", database_url=march.url)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("2026-03 (2026-03-01..2026-03-31, Asia/Shanghai) by platform")
        assert lines[1].split() == ["figure", "center", "utilities", "total"]
        assert lines[2].split() == ["received", "(dispatched)", "11", "2", "13"]

    def test_an_empty_period(self, march: Db) -> None:
        """No orders in the period: exit 0 and a report of zeros."""
        r = hotline("stats", "--from", "2025-01-01", "--to", "2025-01-31", "--by", "district", "--format", "json",
                    database_url=march.url)  # fmt: skip
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert report["total"]["received"] == 0
        assert report["total"]["median_handling_hours"] is None

    def test_assess(self, march: Db) -> None:
        """The ranked table per group, and the same scores as CSV."""
        r = hotline("assess", "--month", "2026-03", database_url=march.url)
        assert r.returncode == 0, r.stderr
        assert "assessment tianjin-assessment-2021 of 2026-03" in r.stdout
        nankai = next(line for line in r.stdout.splitlines() if "district-nankai" in line)
        assert nankai.split()[:3] == ["14", "district-nankai", "93.00"]
        r = hotline("assess", "--month", "2026-03", "--format", "csv", database_url=march.url)
        assert r.returncode == 0, r.stderr
        rows = {(row["group"], row["org"]): row for row in csv.DictReader(io.StringIO(r.stdout))}
        assert rows[("district_commission", "district-nankai")]["training_missed"] == "True"
        assert rows[("unit", "dept-lighting")]["score"] == "40.00"

    def test_bulletin(self, march: Db, tmp_path: Path) -> None:
        """Both files written into --out (created), their paths printed."""
        out = tmp_path / "bulletins" / "2026"
        r = hotline("bulletin", "--month", "2026-03", "--out", str(out), database_url=march.url)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == [str(out / "bulletin-2026-03.html"), str(out / "bulletin-2026-03.md")]
        assert "Late orders by unit" in (out / "bulletin-2026-03.html").read_text(encoding="utf-8")

    def test_bulletin_of_an_empty_month(self, march: Db, tmp_path: Path) -> None:
        """A month without orders still gets its bulletin."""
        r = hotline("bulletin", "--month", "2025-06", "--out", str(tmp_path), database_url=march.url)
        assert r.returncode == 0, r.stderr
        assert "No order was late this month." in (tmp_path / "bulletin-2025-06.md").read_text(encoding="utf-8")
