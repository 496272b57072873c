"""`hotline schema export [--dir schemas] [--check]`: write or check the contract's JSON Schemas.

Exit codes (`starter.cli.exits`): 0 done (or up to date), 1 ``--check`` found stale, missing or
extra files, or a file could not be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from starter.cli.exits import EXIT_FAILED, EXIT_OK
from starter.schemas import generate


def _on_disk(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_bytes() == text.encode("utf-8")
    except OSError:
        return False


def compare(folder: Path, files: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(stale, missing, extra) paths of ``folder`` against the generated ``files``."""
    present = _on_disk(folder)
    stale = sorted(p for p in files if p in present and not _same(folder / p, files[p]))
    missing = sorted(p for p in files if p not in present)
    extra = sorted(present - set(files))
    return stale, missing, extra


def cmd_export(args: argparse.Namespace) -> int:
    """Write every schema into ``--dir``, or with ``--check`` only say what is out of date."""
    folder = Path(args.dir)
    files = generate()
    stale, missing, extra = compare(folder, files)
    if args.check:
        if not (stale or missing or extra):
            print(f"{folder}: {len(files)} file(s) up to date")
            return EXIT_OK
        for label, paths in (("stale", stale), ("missing", missing), ("extra", extra)):
            for p in paths:
                print(f"{label}: {folder / p}", file=sys.stderr)
        print(
            f"{folder}: out of date with the models; run `hotline schema export --dir {folder}`"
            + (" and delete the extra files" if extra else ""),
            file=sys.stderr,
        )
        return EXIT_FAILED
    written = 0
    try:
        for path in sorted(set(stale) | set(missing)):
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path], encoding="utf-8", newline="\n")
            written += 1
    except OSError as err:
        print(f"error: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{folder}: wrote {written} file(s), {len(files) - written} unchanged")
    for p in extra:
        # never delete: --dir may point at a folder that holds other things too
        print(f"note: {folder / p} is not generated; delete it if it is no longer wanted", file=sys.stderr)
    return EXIT_OK


def configure(command: str, schema: argparse.ArgumentParser) -> None:
    """The arguments of `hotline schema export`."""
    ssub = schema.add_subparsers(dest="schema_command", required=True, metavar="{export}")
    p = ssub.add_parser(
        "export",
        help="write the JSON Schema of every contract payload, generated from the pydantic models",
        description="One file per payload: NewOrder.json, actions/<action>.json, OrderStatus.json, "
        "HandlingOrder.json, and a README. Only changed files are written; nothing is deleted.",
    )
    p.add_argument("--dir", default="schemas", help="the folder (default: schemas)")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing stale, missing and extra files",
    )
    p.set_defaults(func=cmd_export)
