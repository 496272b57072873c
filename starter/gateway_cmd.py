"""`hotline gateway` and `hotline token …`: run the handler gateway, issue and revoke its tokens.

``starter/cli.py`` wires this in with ``gateway_cmd.register(sub)``.

- ``hotline gateway``: the gateway (``starter/gateway.py``) on ``HOTLINE_GATEWAY_HOST``:
  ``HOTLINE_GATEWAY_PORT`` until Ctrl-C or SIGTERM, which finish the requests under way and stop.
- ``hotline gateway openapi [--check] [--file F]``: write (or check) the OpenAPI document,
  ``openapi/gateway.json`` by default.
- ``hotline token issue ORG --role ROLE [--label L] [--by PERSON]``: prints the token, once.
- ``hotline token list [--json]``, ``hotline token revoke ID``.

Exit codes: 0 done, 1 the database or Temporal could not be used, a revoke found nothing to revoke,
or ``--check`` found the document stale; 2 bad arguments, checked before anything is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from domain.access import role_misfit
from domain.models import Role
from starter.db import DatabaseUnavailableError, open_pool
from starter.orders_cmd import org_arg

if TYPE_CHECKING:
    import asyncpg
    import uvicorn

    from workers.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Where `hotline gateway openapi` writes the document, relative to the working directory.
OPENAPI_FILE: Final = Path("openapi") / "gateway.json"
#: How long to try the database before giving up with one line.
#: How long in-flight requests may take to finish at shutdown.
GRACEFUL_S: Final = 10

T = TypeVar("T")


# -- the OpenAPI document ------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as served at ``/openapi.json``."""
    import asyncpg

    from starter.client import HotlineClient
    from starter.gateway import create_app

    # The document depends on the routes only: no request is served, so nothing is connected.
    app = create_app(cast(HotlineClient, None), cast(asyncpg.Pool, None))
    return app.openapi()


def openapi_text() -> str:
    """The document as checked in: indented, keys in the order FastAPI writes them, UTF-8."""
    return json.dumps(openapi_document(), ensure_ascii=False, indent=2) + "\n"


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document to ``--file``, or with ``--check`` only say whether it is current."""
    path = Path(args.file)
    text = openapi_text()
    try:
        current = path.read_text(encoding="utf-8") == text
    except OSError:
        current = False
    if args.check:
        if current:
            print(f"{path}: up to date")
            return EXIT_OK
        print(f"{path}: out of date with the gateway; run `hotline gateway openapi --file {path}`", file=sys.stderr)
        return EXIT_FAILED
    if current:
        print(f"{path}: unchanged")
        return EXIT_OK
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as err:
        print(f"error: cannot write {path}: {err.strerror}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{path}: written")
    return EXIT_OK


# -- serving -------------------------------------------------------------------------------------


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping gracefully on SIGINT/SIGTERM and then returning.

        uvicorn re-raises a captured signal after its shutdown, which would end the process before
        the pool is closed; here the command closes what it opened and exits 0.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server


async def serve(settings: Settings) -> int:
    """Run the gateway until SIGINT or SIGTERM; returns the exit code."""
    import structlog
    import uvicorn

    from activities.db import apply_migrations
    from starter.client import HotlineClient
    from starter.gateway import create_app

    log = structlog.get_logger(__name__)
    client = await HotlineClient.connect(settings)
    pool = await open_pool(settings.database_url, max_size=10, json_codecs=True)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)  # the token and audit tables; once, under the migration lock
        config = uvicorn.Config(
            create_app(client, pool),
            host=settings.gateway_host,
            port=settings.gateway_port,
            log_config=None,
            access_log=False,  # every request is in audit_log
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_S,
        )
        server = _server_class()(config)
        log.info("gateway.starting", host=settings.gateway_host, port=settings.gateway_port)
        await server.serve()
        log.info("gateway.stopped")
        return EXIT_OK if server.started else EXIT_FAILED
    finally:
        await pool.close()


def cmd_serve(args: argparse.Namespace) -> int:
    """`hotline gateway`."""
    from workers.logging import configure
    from workers.pg import port_is_free
    from workers.settings import Settings

    settings = Settings.from_env()
    configure(fmt=settings.log_format, level=settings.log_level)
    if not port_is_free(settings.gateway_port, settings.gateway_host):
        print(
            f"hotline gateway: port {settings.gateway_port} on {settings.gateway_host} is taken; "
            "set HOTLINE_GATEWAY_PORT to another port",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        return asyncio.run(serve(settings))
    except DatabaseUnavailableError as err:
        print(f"hotline gateway: {err}", file=sys.stderr)
        return EXIT_FAILED


# -- tokens --------------------------------------------------------------------------------------


def _with_pool(fn: Callable[[asyncpg.Pool], Awaitable[int]]) -> int:
    """Run ``fn(pool)`` on ``HOTLINE_DATABASE_URL``; a database that cannot be used is exit 1."""
    import asyncpg

    from workers.settings import Settings

    async def main() -> int:
        pool = await open_pool(Settings.from_env().database_url, json_codecs=True)
        try:
            return await fn(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except DatabaseUnavailableError as e:
        print(f"hotline token: {e}", file=sys.stderr)
    except asyncpg.UndefinedTableError as e:
        print(f"hotline token: {e}; the database is not migrated (`hotline gateway` or a worker start migrates it)",
              file=sys.stderr)  # fmt: skip
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as e:
        print(f"hotline token: database error: {e}", file=sys.stderr)
    return EXIT_FAILED


def _token_id(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a token id; allowed: a whole number ≥ 1") from None
    if not 1 <= n <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a token id; allowed: a whole number ≥ 1")
    return n


def _nonempty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def cmd_issue(args: argparse.Namespace) -> int:
    """`hotline token issue`: the token on stdout (only there, only now), what it is on stderr."""
    from activities import tokens

    role = Role(args.role)
    misfit = role_misfit(args.org, role)
    if misfit is not None:
        print(f"hotline token issue: error: argument --role: {misfit}", file=sys.stderr)
        return EXIT_USAGE
    issued_by = args.by or _whoami()

    async def issue(pool: asyncpg.Pool) -> int:
        try:
            t = await tokens.issue(pool, args.org, role, label=args.label, issued_by=issued_by)
        except tokens.InvalidToken as err:
            print(f"hotline token issue: {err}", file=sys.stderr)
            return EXIT_FAILED
        print(t.token)
        print(
            f"token {t.id}: {t.org} ({t.role.value}){f' [{t.label}]' if t.label else ''}, issued by {t.issued_by}. "
            f"It is shown only now (only its SHA-256 is kept); revoke it with `hotline token revoke {t.id}`.",
            file=sys.stderr,
        )
        return EXIT_OK

    return _with_pool(issue)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "hotline-cli"


def cmd_list(args: argparse.Namespace) -> int:
    """`hotline token list`: every token, without secrets (they are not kept)."""
    from activities import tokens

    async def show(pool: asyncpg.Pool) -> int:
        rows = await tokens.list_tokens(pool)
        if args.json:
            for t in rows:
                print(t.model_dump_json())
            return EXIT_OK
        if not rows:
            print("no tokens; issue one with `hotline token issue ORG --role ROLE`")
            return EXIT_OK
        print(f"{'id':>5}  {'org':24} {'role':10} {'state':8} {'issued':16} {'last used':16} {'by':12} label")
        for t in rows:
            state = "revoked" if t.revoked_at else "active"
            print(
                f"{t.id:>5}  {t.org:24} {t.role.value:10} {state:8} {_when(t.issued_at):16} "
                f"{_when(t.last_used_at):16} {t.issued_by:12} {t.label}"
            )
        return EXIT_OK

    return _with_pool(show)


def _when(t: Any) -> str:
    from domain.calendar import SHANGHAI

    return "-" if t is None else str(t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))


def cmd_revoke(args: argparse.Namespace) -> int:
    """`hotline token revoke ID`."""
    from activities import tokens

    async def revoke(pool: asyncpg.Pool) -> int:
        if await tokens.revoke(pool, args.id):
            print(f"token {args.id} revoked: it is refused from now on")
            return EXIT_OK
        print(f"hotline token revoke: no active token {args.id} (unknown, or revoked already)", file=sys.stderr)
        return EXIT_FAILED

    return _with_pool(revoke)


# -- wiring --------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `gateway` and `token` to the `hotline` command's subparsers."""
    gw = subparsers.add_parser(
        "gateway",
        help="run the handler gateway (HTTP, bearer tokens) until Ctrl-C; `gateway openapi` writes its OpenAPI",
        description="The contract's actions and queries over HTTP for handler apps holding a token "
        "(`hotline token issue`). Listens on HOTLINE_GATEWAY_HOST:HOTLINE_GATEWAY_PORT; Ctrl-C or "
        "SIGTERM finishes the requests under way and stops.",
    )
    gw.set_defaults(func=cmd_serve)
    gsub = gw.add_subparsers(dest="gateway_command", metavar="{openapi}")
    p = gsub.add_parser("openapi", help="write the gateway's OpenAPI document (or --check it)")
    p.add_argument("--file", default=str(OPENAPI_FILE), help=f"where (default: {OPENAPI_FILE})")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is out of date")
    p.set_defaults(func=cmd_openapi)

    tok = subparsers.add_parser("token", help="issue, list and revoke the gateway's bearer tokens")
    tsub = tok.add_subparsers(dest="token_command", required=True, metavar="{issue,list,revoke}")
    p = tsub.add_parser(
        "issue",
        help="issue a token for an org acting in a role; prints it once",
        description="A token stands for ORG acting as ROLE: operator (center, utilities), supervisor "
        "(dept-hotline, utilities), handler (dept-*, unit-*, district-*, utilities), hotline (hotline). "
        "Only its SHA-256 is stored: copy it now.",
    )
    p.add_argument("org", type=org_arg, metavar="ORG", help="org id (see `hotline orgs`)")
    p.add_argument("--role", required=True, choices=[r.value for r in Role], help="the role the token acts in")
    p.add_argument("--label", default="", help="what the token is for, e.g. the desk app's name")
    p.add_argument("--by", type=_nonempty, metavar="PERSON", help="who issues it (default: the login name)")
    p.set_defaults(func=cmd_issue)
    p = tsub.add_parser("list", help="every token: org, role, state, last use (never the token itself)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_list)
    p = tsub.add_parser("revoke", help="revoke a token: refused from now on")
    p.add_argument("id", type=_token_id, metavar="ID", help="the token's id (`hotline token list`)")
    p.set_defaults(func=cmd_revoke)
