"""The house's arrows point one way: every import of the product goes to its own layer or a lower one.

Layers, lowest first (docs/architecture.md):

    0 domain/          pure rules and types: the standard library and pydantic only
    1 activities/      Temporal activities and their database code (activities/store/, activities/reports/)
    2 workflows/       workflows
    3 starter/         the client library (everything in starter/ but starter/cli/)
    4 workers/         the processes
    5 starter/cli/     the `hotline` command

Every import is read from the source (``ast``): at a module's top, under ``if``/``with``/``try``,
and inside functions. Tests may import anything.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]

#: (module prefix, layer), the most specific prefix first.
LAYERS: Final = (
    ("starter.cli", 5),
    ("workers", 4),
    ("starter", 3),
    ("workflows", 2),
    ("activities", 1),
    ("domain", 0),
)
LAYER_NAMES: Final = {
    5: "starter.cli",
    4: "workers",
    3: "starter (library)",
    2: "workflows",
    1: "activities",
    0: "domain",
}

#: What domain/ may import besides itself: the standard library and pydantic.
DOMAIN_THIRD_PARTY: Final = frozenset({"pydantic", "pydantic_core", "annotated_types"})


def layer_of(module: str) -> int | None:
    """The layer of a module of the product; None for anything else (stdlib, third party)."""
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is, and whether it sits inside a function."""

    path: Path
    line: int
    target: str
    in_function: bool

    def __str__(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{where}:{self.line}: imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, module: str | None = None) -> Iterator[Import]:
    """Every import in ``path`` (the module ``module``, by default its name in the tree): ``import
    a.b`` is ``a.b``; ``from a import b`` is ``a.b`` when that is a module of the product, else ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module or module_name(path)
    is_package = path.name == "__init__.py"

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(path, child.lineno, alias.name, inside)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(child, module, is_package)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    own = layer_of(base) is not None and (ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                    package = (ROOT / Path(*sub.split(".")) / "__init__.py").exists()
                    yield Import(path, child.lineno, sub if own or package else base, inside)
            yield from walk(child, inside)

    yield from walk(tree, False)


def product_files() -> list[Path]:
    return sorted(
        p for top in ("domain", "activities", "workflows", "workers", "starter") for p in (ROOT / top).rglob("*.py")
    )


def upward(path: Path, module: str | None = None) -> list[str]:
    """Every import in ``path`` that points to a higher layer than its module's, in words."""
    module = module or module_name(path)
    here = layer_of(module)
    assert here is not None, path
    found = []
    for imp in imports_of(path, module):
        there = layer_of(imp.target)
        if there is not None and there > here:
            found.append(f"{imp} ({LAYER_NAMES[here]} -> {LAYER_NAMES[there]}: up)")
    return found


def test_the_layers_cover_the_product() -> None:
    """Every module of the product belongs to a layer, and each layer has modules."""
    files = product_files()
    assert files
    assert {layer_of(module_name(p)) for p in files} == set(range(6))


def test_no_import_points_up() -> None:
    """domain < activities < workflows < starter library < workers < starter.cli: no arrow back up."""
    found = [line for path in product_files() for line in upward(path)]
    assert not found, "imports that point up the layers:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("module", "source", "arrow"),
    [
        ("domain.probe", "def f() -> None:\n    from activities.store import db\n", "domain -> activities"),
        ("activities.probe", "import workflows.work_order\n", "activities -> workflows"),
        ("starter.probe", "from workers import worker\n", "starter (library) -> workers"),
        ("workers.probe", "from starter.cli import run\n", "workers -> starter.cli"),
    ],
)
def test_an_upward_import_is_found(tmp_path: Path, module: str, source: str, arrow: str) -> None:
    """The check itself: an upward import, at the top or inside a function, is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text(source, encoding="utf-8")
    [found] = upward(probe, module)
    assert f"({arrow}: up)" in found


def test_no_import_hides_in_a_function() -> None:
    """Imports sit at a module's top; the CLI's dispatch loads the chosen command with importlib
    (`starter.cli._module`), which is no import statement."""
    hidden = [str(i) for p in product_files() for i in imports_of(p) if i.in_function]
    assert not hidden, "imports inside functions:\n" + "\n".join(hidden)


def test_domain_imports_only_the_standard_library_and_pydantic() -> None:
    """The rules run anywhere: inside a workflow's sandbox, in a test, in a notebook."""
    allowed = set(sys.stdlib_module_names) | DOMAIN_THIRD_PARTY | {"__future__", "domain"}
    found = [
        str(i)
        for p in sorted((ROOT / "domain").rglob("*.py"))
        for i in imports_of(p)
        if i.target.split(".")[0] not in allowed
    ]
    assert not found, "domain imports beyond the standard library and pydantic:\n" + "\n".join(found)
