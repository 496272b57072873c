"""The generated tables of docs/contract.md and docs/rules.md: current with the code, and complete."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest

from domain.contract import Flag, OrderAction, SearchAttribute
from domain.errors import RefusalKind
from domain.models import Outcome, Phase
from starter import contract_doc
from starter.contract_doc import REGIONS, StaleDocument, render, render_docs

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


class TestCheckedIn:
    @pytest.mark.parametrize("name", sorted(REGIONS))
    def test_document_is_current(self, name: str) -> None:
        """Every generated table of the document is what the code renders now."""
        rendered = render_docs(_read)[name]
        if rendered != _read(name):
            pytest.fail(
                f"docs/{name}: the generated tables are out of date with the code; run "
                f"`{contract_doc.COMMAND}` and check in the result"
            )

    def test_contract_names_every_word(self) -> None:
        """Each action, phase, outcome, flag, search attribute and refusal kind appears in the contract."""
        text = _read("contract.md")
        for enum in (OrderAction, Phase, Outcome, Flag, RefusalKind):
            for member in enum:
                assert f"`{member.value}`" in text, f"{enum.__name__}.{member.name}"
        for attribute in SearchAttribute:
            assert f"`{attribute.value}`" in text

    def test_when_table_has_every_action_once(self) -> None:
        """The hand-written 'allowed when' table has one row per action, in the contract's order."""
        text = _read("contract.md")
        table = text.split("When each action is allowed", 1)[1].split("\n\n", 2)[1]
        rows = [re.match(r"\| `(\w+)` \|", line) for line in table.splitlines()[2:]]
        assert [r.group(1) for r in rows if r] == [a.value for a in OrderAction]


#: Two toy regions to render.
TOY: Final[dict[str, Callable[[], str]]] = {"one": lambda: "| a |\n", "two": lambda: "b\n"}


class TestRender:
    def test_only_the_regions_change(self) -> None:
        """The bodies between the markers are rendered; the markers and the words around them are kept."""
        text = (
            "intro\n<!-- BEGIN GENERATED one: note -->\nold\nstuff\n<!-- END GENERATED one -->\n"
            "middle\n<!-- BEGIN GENERATED two -->\n<!-- END GENERATED two -->\nend\n"
        )
        out = render(text, TOY, source="x.md")
        assert out == (
            "intro\n<!-- BEGIN GENERATED one: note -->\n| a |\n<!-- END GENERATED one -->\n"
            "middle\n<!-- BEGIN GENERATED two -->\nb\n<!-- END GENERATED two -->\nend\n"
        )
        assert render(out, TOY, source="x.md") == out

    def test_a_missing_region_is_named(self) -> None:
        """A region the generator renders but the document lacks stops the rendering, naming it."""
        with pytest.raises(StaleDocument, match=r"x\.md: no region two"):
            render("<!-- BEGIN GENERATED one -->\n<!-- END GENERATED one -->\n", TOY, source="x.md")

    def test_an_unknown_or_unclosed_region_is_named(self) -> None:
        """A region nobody renders, or a marker without its pair, stops the rendering."""
        both = "<!-- BEGIN GENERATED one -->\n<!-- END GENERATED one -->\n<!-- BEGIN GENERATED two -->\n"
        with pytest.raises(StaleDocument, match=r"unpaired or nested markers of region\(s\) two"):
            render(both, TOY, source="x.md")
        with pytest.raises(StaleDocument, match="no generator for the region 'three'"):
            render(both + "<!-- END GENERATED two -->\n<!-- BEGIN GENERATED three -->\n<!-- END GENERATED three -->\n",
                   TOY, source="x.md")  # fmt: skip

    def test_a_phase_without_words_stops_the_generation(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A new phase (outcome, flag, …) cannot reach the contract undescribed."""
        monkeypatch.delitem(contract_doc.PHASES, Phase.APPEAL_WINDOW)
        with pytest.raises(StaleDocument, match="no words for phase appeal_window"):
            render_docs(_read)

    def test_a_table_cell_never_breaks_the_table(self) -> None:
        """A pipe or a line break inside a cell is escaped or folded."""
        table = contract_doc._table(["a", "b"], [("x | y", "one\ntwo")])
        assert table.splitlines()[2] == "| x \\| y | one two |"


class TestExportCommand:
    def _hotline(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "starter.cli", "schema", "export", *args],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def test_docs_flag_checks_and_rewrites(self, tmp_path: Path) -> None:
        """--docs --check fails naming a stale document and writes nothing; --docs rewrites only its tables."""
        docs = tmp_path / "docs"
        docs.mkdir()
        for name in REGIONS:
            shutil.copy(DOCS / name, docs / name)
        schemas = tmp_path / "schemas"
        assert self._hotline("--dir", str(schemas)).returncode == 0
        r = self._hotline("--dir", str(schemas), "--docs", str(docs), "--check")
        assert r.returncode == 0, r.stderr

        contract = docs / "contract.md"
        original = contract.read_text(encoding="utf-8")
        tampered = original.replace("| `receive` | `operator` |", "| `receive` | `hotline` |")
        assert tampered != original
        contract.write_text(tampered + "\nwords of our own\n", encoding="utf-8")
        r = self._hotline("--dir", str(schemas), "--docs", str(docs), "--check")
        assert r.returncode == 1
        assert f"stale: {contract}" in r.stderr
        assert contract_doc.COMMAND in r.stderr
        assert contract.read_text(encoding="utf-8").startswith(tampered)  # --check writes nothing

        r = self._hotline("--dir", str(schemas), "--docs", str(docs))
        assert r.returncode == 0, r.stderr
        assert "rendered the tables of 1 document(s), 1 unchanged" in r.stdout
        assert contract.read_text(encoding="utf-8") == original + "\nwords of our own\n"

    def test_a_document_without_its_regions_fails(self, tmp_path: Path) -> None:
        """A document that lost a region's markers is an error naming the region, not a silent skip."""
        docs = tmp_path / "docs"
        docs.mkdir()
        for name in REGIONS:
            shutil.copy(DOCS / name, docs / name)
        rules = docs / "rules.md"
        rules.write_text("# rules\n", encoding="utf-8")
        r = self._hotline("--dir", str(tmp_path / "schemas"), "--docs", str(docs))
        assert r.returncode == 1
        assert "no region rulebook-parameters" in r.stderr
        assert rules.read_text(encoding="utf-8") == "# rules\n"
