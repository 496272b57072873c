"""Argument types and input readers shared by the command modules (argparse names the argument and exits 2)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_core import ErrorDetails

from domain.directory import ORGANISATIONS
from starter.cli.exits import EXIT_USAGE, CliError


def org_arg(value: str) -> str:
    """An org id of the directory."""
    if value not in ORGANISATIONS:
        raise argparse.ArgumentTypeError(
            f"unknown org {value!r}; allowed: hotline, center, utilities, dept-*, unit-*, district-* "
            "(see `hotline orgs`)"
        )
    return value


def instant_arg(value: str) -> str:
    """An aware ISO-8601 instant (kept as text; the model parses it)."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO-8601 instant; allowed: e.g. 2026-11-27T10:15:00+08:00"
        ) from None
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is a naive datetime; allowed: an instant with its offset, e.g. 2026-11-27T10:15:00+08:00"
        )
    return value


def describe_error(e: ErrorDetails) -> str:
    """One pydantic error in words."""
    if e["type"] == "missing":
        return "required"
    return str(e["msg"]).removeprefix("Value error, ")


def flag_problems(errors: list[ErrorDetails], flags: dict[str, str]) -> str:
    """Pydantic errors of a payload built from arguments, each named by the flag that sets the field."""
    problems = []
    for e in errors:
        loc = ".".join(str(p) for p in e["loc"])
        flag = flags.get(loc, f"--{loc.replace('_', '-')}" if loc else "(arguments)")
        problems.append(f"{flag}: {describe_error(e)}")
    return "; ".join(problems)


def read_json(source: str) -> Any:
    """The JSON document in file ``source`` (``-``: standard input), or `CliError` (exit 2) saying why not."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else str(err)
        raise CliError(f"cannot read {source}: {reason}", EXIT_USAGE) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"{source}: not JSON: {err.msg} at line {err.lineno} column {err.colno}", EXIT_USAGE) from None
