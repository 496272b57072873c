"""`hotline dev` and `hotline worker`: the processes of the stack, run from the command line."""

from __future__ import annotations

import argparse
import asyncio

from starter.cli.exits import EXIT_OK, CliError
from starter.settings import Settings
from workers import dev
from workers.logging import configure as configure_logging
from workers.worker import WorkerStartError, run_worker


def cmd_dev(args: argparse.Namespace) -> int:
    """`hotline dev`: the whole stack until Ctrl-C."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    try:
        return asyncio.run(dev.run_dev(settings, workers=args.workers))
    except dev.StackError as err:
        raise CliError(f"hotline dev: {err}") from None


def cmd_worker(args: argparse.Namespace) -> int:
    """`hotline worker`: the production worker until SIGINT/SIGTERM."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    try:
        asyncio.run(run_worker(settings))
    except WorkerStartError as err:
        raise CliError(str(err)) from None
    return EXIT_OK


def _worker_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is negative; allowed: 0 (none) or more")
    return n


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of `hotline dev` (``--workers``) and `hotline worker` (none)."""
    if command == "dev":
        parser.add_argument(
            "--workers",
            type=_worker_count,
            default=1,
            metavar="N",
            help="worker processes to run and restart when they die (default 1; 0: none, "
            "so that `hotline worker` processes can run beside it)",
        )
    parser.set_defaults(func={"dev": cmd_dev, "worker": cmd_worker}[command])
