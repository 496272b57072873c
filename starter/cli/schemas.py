"""`hotline schema export [--dir schemas] [--docs [DIR]] [--check]`: write or check the contract's JSON Schemas.

With ``--docs`` it also renders the generated tables of ``DIR/contract.md`` and ``DIR/rules.md``
(`starter.contract_doc`).

Exit codes (`starter.cli.exits`): 0 done (or up to date), 1 ``--check`` found stale, missing or
extra files, or a file could not be read, rendered or written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from starter.cli.exits import EXIT_FAILED, EXIT_OK
from starter.contract_doc import COMMAND, StaleDocument, render_docs
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


def _docs(folder: Path, *, check: bool) -> int:
    """Render the generated tables of the documents in ``folder``; with ``check`` only say which are stale."""
    try:
        rendered = render_docs(lambda name: (folder / name).read_text(encoding="utf-8"))
    except OSError as err:
        print(f"error: cannot read {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    except StaleDocument as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    stale = sorted(name for name, text in rendered.items() if not _same(folder / name, text))
    if check:
        if not stale:
            print(f"{folder}: the generated tables of {len(rendered)} document(s) are up to date")
            return EXIT_OK
        for name in stale:
            print(f"stale: {folder / name}", file=sys.stderr)
        print(f"{folder}: generated tables out of date with the code; run `{COMMAND} {folder}`", file=sys.stderr)
        return EXIT_FAILED
    try:
        for name in stale:
            (folder / name).write_text(rendered[name], encoding="utf-8", newline="\n")
    except OSError as err:
        print(f"error: cannot write {err.filename}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{folder}: rendered the tables of {len(stale)} document(s), {len(rendered) - len(stale)} unchanged")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write every schema into ``--dir`` (and the documents' tables with ``--docs``); ``--check`` only says."""
    code = _schemas(args)
    if args.docs is None:
        return code
    return max(code, _docs(Path(args.docs), check=args.check))


def _schemas(args: argparse.Namespace) -> int:
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
        "--docs",
        nargs="?",
        const="docs",
        default=None,
        metavar="DIR",
        help="also render the generated tables of DIR/contract.md and DIR/rules.md from the code (DIR default: docs)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing stale, missing and extra files (and stale documents with --docs)",
    )
    p.set_defaults(func=cmd_export)
