"""`hotline`: the command for operators, handlers and integration engineers."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from domain.errors import InvalidOrder
from domain.models import NewOrder, describe_validation_error, workflow_id_for
from starter import orders_cmd
from starter.errors import ActionRefused, OrderNotFound, TemporalUnreachable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A failure to report in one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


# -- dev / worker ------------------------------------------------------------------------------


def _cmd_dev(args: argparse.Namespace) -> int:
    from workers import dev
    from workers.logging import configure
    from workers.settings import Settings

    settings = Settings.from_env()
    configure(fmt=settings.log_format, level=settings.log_level)
    try:
        return _run(dev.run_dev(settings))
    except dev.StackError as err:
        raise CliError(f"hotline dev: {err}") from None


def _cmd_worker(args: argparse.Namespace) -> int:
    from workers.logging import configure
    from workers.settings import Settings
    from workers.worker import run_worker

    settings = Settings.from_env()
    configure(fmt=settings.log_format, level=settings.log_level)

    async def main() -> int:
        await run_worker(settings)
        return EXIT_OK

    return _run(main())


# -- orders ------------------------------------------------------------------------------------


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as err:
        raise CliError(f"cannot read {source}: {err.strerror}", EXIT_USAGE) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CliError(f"{source}: not JSON: {err.msg} at line {err.lineno} column {err.colno}", EXIT_USAGE) from None


def parse_new_order(raw: Any, *, now: datetime) -> NewOrder:
    """Validate a NewOrder as the workflow will, before anything is started."""
    if not isinstance(raw, dict):
        raise CliError("NewOrder refused: the input must be a JSON object", EXIT_USAGE)
    try:
        order = NewOrder.model_validate(raw)
        order.check_arrival(now)
    except ValidationError as err:
        raise CliError(f"NewOrder refused: {describe_validation_error(err)}", EXIT_USAGE) from None
    except InvalidOrder as err:
        raise CliError(f"NewOrder refused: {err}", EXIT_USAGE) from None
    return order


def _cmd_order_start(args: argparse.Namespace) -> int:
    order = parse_new_order(_read_json(args.file), now=datetime.now(UTC))

    async def main() -> int:
        from starter.client import HotlineClient, OrderAlreadyRunning

        client = await HotlineClient.connect()
        try:
            run_id = await client.start_order(order)
        except OrderAlreadyRunning:
            raise CliError(
                f"order {order.order_no} is already running (workflow {order.workflow_id}); nothing changed"
            ) from None
        print(json.dumps({"order_no": order.order_no, "workflow_id": order.workflow_id, "run_id": run_id}))
        return EXIT_OK

    return _run(main())


def _cmd_orgs(args: argparse.Namespace) -> int:
    from domain.directory import ORGANISATIONS

    for org, (kind, name) in ORGANISATIONS.items():
        print(f"{org:24} {kind.value:20} {name}")
    return EXIT_OK


# -- wiring ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("dev", help="run the whole stack (PostgreSQL, Temporal + UI, worker) until Ctrl-C")
    p.set_defaults(func=_cmd_dev)
    p = sub.add_parser("worker", help="run the production worker (HOTLINE_* settings)")
    p.set_defaults(func=_cmd_worker)

    p = sub.add_parser("orgs", help="the organisation directory: every org id that may act")
    p.set_defaults(func=_cmd_orgs)

    order = sub.add_parser("order", help="start, act on, show, list and import orders")
    osub = order.add_subparsers(dest="order_command", required=True, metavar="ACTION")
    p = osub.add_parser("start", help="start one order from a NewOrder JSON file (- for stdin)")
    p.add_argument("file", help="path of the JSON file, or - for standard input")
    p.set_defaults(func=_cmd_order_start)
    orders_cmd.register_views(osub, sub)
    orders_cmd.register_order_actions(osub)

    _register_optional(sub)
    return parser


def _register_optional(sub: Any) -> None:
    from starter import (
        codec_cmd,
        deadlines_cmd,
        demo,
        duty_cmd,
        gateway_cmd,
        inquiry_cmd,
        outbox_cmd,
        schemas_cmd,
        stats_cmd,
    )

    codec_cmd.register(sub)
    deadlines_cmd.register(sub)
    schemas_cmd.register(sub)
    outbox_cmd.register(sub)
    demo.register(sub)
    gateway_cmd.register(sub)
    inquiry_cmd.register(sub)
    stats_cmd.register(sub)
    duty_cmd.register(sub)


def run(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as err:
        print(str(err), file=sys.stderr)
        return err.code
    except TemporalUnreachable as err:
        print(f"hotline: {err}", file=sys.stderr)
        return EXIT_FAILED
    except orders_cmd.UsageError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except ActionRefused as err:
        print(str(err), file=sys.stderr)
        return EXIT_FAILED
    except OrderNotFound as err:
        no = str(err)
        print(f"order {no} not found (no workflow {workflow_id_for(no)})", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def main() -> None:
    """Console entry point; leaves through ``os._exit`` (see design.md, crash at interpreter exit)."""
    try:
        code = run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
