"""`hotline`: the command for operators, handlers and integration engineers.

Every command is a line of `COMMANDS`: its name, the module of `starter.cli` that defines its
arguments and runs it (``configure(command, parser)``), and its one-line help. Exit codes and the
one error a command raises: `starter.cli.exits`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Collection
from types import ModuleType
from typing import Final, NamedTuple

from starter.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from starter.errors import ActionRefused, OrderNotFound, TemporalUnreachable


class Command(NamedTuple):
    """One `hotline` command: the module of `starter.cli` that defines it, and its help line."""

    module: str
    help: str


#: Every command, in the order `hotline --help` lists them.
COMMANDS: Final[dict[str, Command]] = {
    "dev": Command("stack", "run the whole stack (PostgreSQL, Temporal + UI, worker) until Ctrl-C"),
    "worker": Command("stack", "run the production worker (HOTLINE_* settings)"),
    "orgs": Command("orders", "the organisation directory: every org id that may act"),
    "order": Command("orders", "start, act on, show, list and import orders"),
    "desk": Command("orders", "what is on an org's desk now, most urgent first"),
    "inquiry": Command("inquiry", "doubtful orders: ask a unit, answer, reassign, show (Art. 7.3)"),
    "deadlines": Command("deadlines", "compute an order's receipt and completion deadlines (Articles 8.1, 8.5)"),
    "calendar": Command("calendar", "show or enter the business calendar (Art. 8.1)"),
    "rulebook": Command("rulebook", "list, show or import the rulebook's versions (Art. 14)"),
    "outbox": Command("outbox", "claim, acknowledge and list notifications and city-hotline messages"),
    "stats": Command(
        "reports", "figures of a period: received, on time, completed, returns, extensions, callbacks, ..."
    ),
    "assess": Command("reports", "the month's assessment of platforms, district commissions and units, ranked"),
    "bulletin": Command("reports", "write the month's bulletin (HTML with charts, and Markdown)"),
    "kb": Command("kb", "the knowledge base: regulations, real-time, hot topics, training (Art. 11)"),
    "duty": Command("duty", "the holiday on-duty roster (Arts. 4.7, 5.7, 6.7)"),
    "gateway": Command(
        "gateway",
        "run the handler gateway (HTTP, bearer tokens) until Ctrl-C; `gateway openapi` writes its OpenAPI",
    ),
    "token": Command("gateway", "issue, list and revoke the gateway's bearer tokens"),
    "codec-server": Command(
        "codec",
        "serve the payload codec for the Web UI and the temporal CLI (HOTLINE_CODEC_HOST:HOTLINE_CODEC_PORT)",
    ),
    "codec": Command("codec", "payload encryption keys: rotate-key, keys, new-key"),
    "schema": Command("schemas", "the contract's JSON Schemas (schemas/)"),
    "demo": Command("demo", "start a realistic set of orders and drive them to every phase (to explore the Web UI)"),
    "replay-check": Command(
        "replay", "replay the running orders' histories on this release's code; exit 1 on non-determinism"
    ),
}


def _module(name: str) -> ModuleType:
    # The one lazy import of the command: only the chosen command's module is loaded, so
    # `hotline --help` and light commands (`hotline deadlines`, `hotline orgs`) do not pay for
    # Temporal, FastAPI, asyncpg and rich, which the other modules import at their top.
    return importlib.import_module(f"starter.cli.{name}")


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The command tree, with the arguments of ``commands`` in full (of every command when None).

    The other commands are there with their help line only: enough for `hotline --help`.
    """
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, spec in COMMANDS.items():
        p = sub.add_parser(name, help=spec.help)
        if commands is None or name in commands:
            _module(spec.module).configure(name, p)
    return parser


def _chosen(argv: list[str]) -> list[str]:
    """The command named in ``argv``, if any (none in `hotline` and `hotline --help`)."""
    first = next((a for a in argv if not a.startswith("-")), "")
    return [first] if first in COMMANDS else []


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    args_in = sys.argv[1:] if argv is None else argv
    parser = build_parser(_chosen(args_in))
    args = parser.parse_args(args_in)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as err:
        print(str(err), file=sys.stderr)
        return err.code
    except TemporalUnreachable as err:
        print(f"hotline: {err}", file=sys.stderr)
        return EXIT_FAILED
    except (ActionRefused, OrderNotFound) as err:
        print(str(err), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def main() -> None:
    """Console entry point; leaves through ``os._exit`` (temporalio's threads can crash a finalising interpreter)."""
    try:
        code = run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
