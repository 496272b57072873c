"""`hotline gateway` and `hotline token …`: run the handler gateway, issue and revoke its tokens.

- ``hotline gateway``: the gateway (``workers/gateway.py``) on ``HOTLINE_GATEWAY_HOST``:
  ``HOTLINE_GATEWAY_PORT`` until Ctrl-C or SIGTERM, which finish the requests under way and stop.
- ``hotline gateway openapi [--check] [--file F]``: write (or check) the OpenAPI document,
  ``openapi/gateway.json`` by default.
- ``hotline token issue ORG --role ROLE [--label L] [--by PERSON]``: prints the token, once.
- ``hotline token list [--json]``, ``hotline token revoke ID``.

Exit codes (`starter.cli.exits`): 0 done, 1 the database or Temporal could not be used, a revoke
found nothing to revoke, or ``--check`` found the document stale; 2 bad arguments, checked before
anything is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Final, cast

import asyncpg

from activities.store import tokens
from activities.store.db import DatabaseUnavailableError
from domain.access import role_misfit
from domain.calendar import SHANGHAI
from domain.models import Role
from starter.cli.args import org_arg
from starter.cli.db import run_with_pool
from starter.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from starter.client import HotlineClient
from starter.settings import Settings
from starter.telemetry import TelemetryError
from workers.gateway import create_app, run_gateway
from workers.logging import configure as configure_logging
from workers.pg import port_is_free

#: Where `hotline gateway openapi` writes the document, relative to the working directory.
OPENAPI_FILE: Final = Path("openapi") / "gateway.json"

#: What migrates the token tables, for the line that says a database is not migrated.
_MIGRATED_BY: Final = "`hotline gateway` or a worker start"


# -- the OpenAPI document ------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as served at ``/openapi.json``."""
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
        raise CliError(f"{path}: out of date with the gateway; run `hotline gateway openapi --file {path}`")
    if current:
        print(f"{path}: unchanged")
        return EXIT_OK
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as err:
        raise CliError(f"error: cannot write {path}: {err.strerror}") from None
    print(f"{path}: written")
    return EXIT_OK


# -- serving -------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """`hotline gateway`."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    if not port_is_free(settings.gateway_port, settings.gateway_host):
        raise CliError(
            f"hotline gateway: port {settings.gateway_port} on {settings.gateway_host} is taken; "
            "set HOTLINE_GATEWAY_PORT to another port"
        )
    try:
        served = asyncio.run(run_gateway(settings))
    except (DatabaseUnavailableError, TelemetryError) as err:
        raise CliError(f"hotline gateway: {err}") from None
    return EXIT_OK if served else EXIT_FAILED


# -- tokens --------------------------------------------------------------------------------------


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


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "hotline-cli"


def cmd_issue(args: argparse.Namespace) -> int:
    """`hotline token issue`: the token on stdout (only there, only now), what it is on stderr."""
    role = Role(args.role)
    misfit = role_misfit(args.org, role)
    if misfit is not None:
        raise CliError(f"hotline token issue: error: argument --role: {misfit}", EXIT_USAGE)
    issued_by = args.by or _whoami()

    async def issue(pool: asyncpg.Pool) -> tokens.IssuedToken:
        try:
            return await tokens.issue(pool, args.org, role, label=args.label, issued_by=issued_by)
        except tokens.InvalidToken as err:
            raise CliError(f"hotline token issue: {err}") from None

    t = run_with_pool("token", issue, json_codecs=True, migrated_by=_MIGRATED_BY)
    print(t.token)
    print(
        f"token {t.id}: {t.org} ({t.role.value}){f' [{t.label}]' if t.label else ''}, issued by {t.issued_by}. "
        f"It is shown only now (only its SHA-256 is kept); revoke it with `hotline token revoke {t.id}`.",
        file=sys.stderr,
    )
    return EXIT_OK


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def cmd_list(args: argparse.Namespace) -> int:
    """`hotline token list`: every token, without secrets (they are not kept)."""
    rows = run_with_pool("token", tokens.list_tokens, json_codecs=True, migrated_by=_MIGRATED_BY)
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


def cmd_revoke(args: argparse.Namespace) -> int:
    """`hotline token revoke ID`."""

    async def revoke(pool: asyncpg.Pool) -> bool:
        return await tokens.revoke(pool, args.id)

    if not run_with_pool("token", revoke, json_codecs=True, migrated_by=_MIGRATED_BY):
        raise CliError(f"hotline token revoke: no active token {args.id} (unknown, or revoked already)")
    print(f"token {args.id} revoked: it is refused from now on")
    return EXIT_OK


# -- wiring --------------------------------------------------------------------------------------


def _gateway(gw: argparse.ArgumentParser) -> None:
    gw.description = (
        "The contract's actions and queries over HTTP for handler apps holding a token "
        "(`hotline token issue`). Listens on HOTLINE_GATEWAY_HOST:HOTLINE_GATEWAY_PORT; Ctrl-C or "
        "SIGTERM finishes the requests under way and stops."
    )
    gw.set_defaults(func=cmd_serve)
    gsub = gw.add_subparsers(dest="gateway_command", metavar="{openapi}")
    p = gsub.add_parser("openapi", help="write the gateway's OpenAPI document (or --check it)")
    p.add_argument("--file", default=str(OPENAPI_FILE), help=f"where (default: {OPENAPI_FILE})")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is out of date")
    p.set_defaults(func=cmd_openapi)


def _token(tok: argparse.ArgumentParser) -> None:
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


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of `hotline gateway` and `hotline token`."""
    {"gateway": _gateway, "token": _token}[command](parser)
