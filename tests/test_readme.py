"""The README tells the truth about the code: its settings, its commands, its layout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Final

from starter.cli import COMMANDS, build_parser
from starter.settings import SETTINGS_DOC

ROOT: Final = Path(__file__).resolve().parents[1]
README: Final = (ROOT / "README.md").read_text(encoding="utf-8")

#: The product's top-level packages (their sub-packages are named in the layout too).
PRODUCT: Final = ("domain", "activities", "workflows", "starter", "workers")


def section(title: str) -> str:
    """The README's section ``## title``, up to the next ``## ``."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"the README has no section {title!r}"
    return match.group(1)


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of the Markdown tables in ``text``, header and rule lines left out."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:] if rows else rows


def code(cell: str) -> list[str]:
    """Every `code span` of a cell."""
    return re.findall(r"`([^`]+)`", cell)


def test_the_settings_table_is_the_settings_registry() -> None:
    """Every row of the README's settings table is `starter.settings.SETTINGS_DOC`'s, in its order."""
    rows = [r for r in table_rows(section("Settings")) if r[0] != "setting"]
    readme = {code(name)[0]: ((code(default) or [""])[0], text) for name, default, text in rows}
    assert list(readme) == list(SETTINGS_DOC)
    assert readme == SETTINGS_DOC


def test_the_command_table_is_the_command_line() -> None:
    """The README lists `hotline`'s commands, each once: no more, no fewer than the parser has."""
    listed = [code(r[0])[0].removeprefix("hotline ") for r in table_rows(section("The `hotline` command"))]
    parser = build_parser([])  # the commands' names and help lines only: no module is loaded
    [sub] = [a for a in parser._actions if a.dest == "command"]
    assert sub.choices is not None
    assert sorted(listed) == sorted(sub.choices) == sorted(COMMANDS)
    assert len(listed) == len(set(listed))


def _tracked_folders() -> set[str]:
    """The repository's top-level folders, as git has them (no .venv, .data, caches)."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return {f.split("/")[0] + "/" for f in files if "/" in f and not f.startswith(".")}


def _packages() -> set[str]:
    """Every package of the product below its top level, and the tests' shared helpers."""
    found = {"tests/support/"}
    for top in PRODUCT:
        for init in (ROOT / top).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT).as_posix() + "/"
            if folder.count("/") > 1:
                found.add(folder)
    return found


def test_the_layout_names_every_folder_and_package() -> None:
    """Each top-level folder and package has its line; every path the layout names exists."""
    named = [path for row in table_rows(section("Layout")) for path in code(row[0])]
    assert len(named) == len(set(named))
    missing = (_tracked_folders() | _packages()) - set(named)
    assert not missing, f"the README's layout has no line for {sorted(missing)}"
    absent = [p for p in named if not (ROOT / p).exists()]
    assert not absent, f"the README's layout names what does not exist: {absent}"


def test_the_action_subcommands_are_the_cli_s() -> None:
    """The README's list of `hotline order` action subcommands is the command line's, in its order."""
    from starter.cli.orders import ACTION_COMMANDS

    match = re.search(r"Every contract action has its subcommand \(`([^`]+)`", README)
    assert match, "the README lists no action subcommands"
    assert match.group(1).split() == [spec.command for spec in ACTION_COMMANDS]
