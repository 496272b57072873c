"""`hotline replay-check`: will this release's code replay the orders that run now? (a release check)

Downloads the histories of the running workflows of ``HOTLINE_TASK_QUEUE`` from the configured
cluster (``TEMPORAL_*`` / ``HOTLINE_TEMPORAL_ADDRESS``, as every command), all or ``--sample N`` of
them, narrowed by ``--query``, and replays each against the workflows installed with this command
(`workers.replay_check`). One line per history that diverges (workflow id, run, first diverging
event, the SDK's words) on stdout, a summary on stderr.

Exit codes (`starter.cli.exits`): 0 every history replays, 1 one or more diverge (or the cluster or
the keys cannot be used: one line says which), 2 a wrong argument.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from starter import connection
from starter.cli.exits import EXIT_FAILED, EXIT_OK, CliError
from starter.codec import KeyRingError
from starter.settings import Settings
from workers.replay_check import ReplayReport, replay_check


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number; allowed: a whole number ≥ 1") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: allowed: a whole number ≥ 1")
    return n


async def _check(args: argparse.Namespace) -> ReplayReport:
    settings = Settings.from_env()
    try:
        client = await connection.connect(settings)
    except KeyRingError as err:
        raise CliError(f"hotline replay-check: {err}") from None
    return await replay_check(
        client,
        task_queue=settings.task_queue,
        query=args.query or "",
        include_closed=args.include_closed,
        sample=args.sample,
        seed=args.seed,
    )


def cmd_replay_check(args: argparse.Namespace) -> int:
    """Replay the histories; exit 1 on any divergence."""
    report = asyncio.run(_check(args))
    for divergence in report.divergences:
        print(divergence.line())
    print(report.summary(), file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of `hotline replay-check`."""
    parser.add_argument(
        "--query",
        metavar="VISIBILITY",
        help="narrow the workflows with a visibility query, e.g. \"WorkflowType = 'WorkOrder'\" "
        "(always: TaskQueue = HOTLINE_TASK_QUEUE, running ones)",
    )
    parser.add_argument("--sample", type=_positive, metavar="N", help="replay a random sample of N (default: all)")
    parser.add_argument("--seed", type=int, help="the sample's seed, for a repeatable sample")
    parser.add_argument(
        "--include-closed", action="store_true", help="closed workflows too (a deploy touches running ones only)"
    )
    parser.set_defaults(func=cmd_replay_check)
