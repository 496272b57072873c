"""`hotline gateway openapi` and `hotline token …`: the checked-in document, tokens from the command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

import asyncpg
import pytest

from activities.store import tokens
from domain.models import ACTIONS
from starter.cli.gateway import openapi_document, openapi_text

ROOT = Path(__file__).parents[2]
HOTLINE = Path(sys.executable).with_name("hotline")
OPENAPI = ROOT / "openapi" / "gateway.json"
NO_DATABASE = "postgresql://postgres@127.0.0.1:1/nothing"


class Run(NamedTuple):
    code: int
    out: str
    err: str


async def hotline(*args: str, database_url: str = NO_DATABASE) -> Run:
    proc = await asyncio.create_subprocess_exec(
        str(HOTLINE),
        *args,
        cwd=ROOT,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url, "HOTLINE_TEMPORAL_ADDRESS": "127.0.0.1:1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


class TestOpenApiDocument:
    def test_the_checked_in_document_is_current(self) -> None:
        """openapi/gateway.json is what the gateway serves; regenerate with `hotline gateway openapi`."""
        assert OPENAPI.read_text(encoding="utf-8") == openapi_text(), "run `hotline gateway openapi`"

    def test_every_action_and_view_with_bearer_security(self) -> None:
        """One path per action, the views, and every operation behind the bearer token."""
        doc = openapi_document()
        assert doc["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "hl_…",
            "description": doc["components"]["securitySchemes"]["bearer"]["description"],
        }
        expected = {"/orders", "/orders/{order_no}", "/orders/{order_no}/handling-order"}
        expected |= {f"/orders/{{order_no}}/actions/{name}" for name in ACTIONS}
        assert set(doc["paths"]) == expected
        for path, item in doc["paths"].items():
            for method, op in item.items():
                assert op["security"] == [{"bearer": []}], f"{method} {path}"
                assert {"401", "403", "422", "503"} <= set(op["responses"]), f"{method} {path}"

    def test_no_request_body_names_an_actor(self) -> None:
        """The actor is the token's: action bodies have `person`, never `actor`, and allow nothing else."""
        schemas = openapi_document()["components"]["schemas"]
        for name, model in ACTIONS.items():
            body = schemas[f"{model.__name__}Request"]
            assert "actor" not in body["properties"], name
            assert "person" in body["required"], name
            assert body["additionalProperties"] is False, name

    async def test_check_and_write(self, tmp_path: Path) -> None:
        """--check passes on the checked-in file and fails on a stale one; a write makes it current."""
        assert (await hotline("gateway", "openapi", "--check")).code == 0
        stale = tmp_path / "gateway.json"
        stale.write_text("{}\n", encoding="utf-8")
        r = await hotline("gateway", "openapi", "--check", "--file", str(stale))
        assert r.code == 1
        assert "out of date" in r.err
        assert (await hotline("gateway", "openapi", "--file", str(stale))).code == 0
        assert json.loads(stale.read_text(encoding="utf-8"))["info"]["title"] == "Tianjin hotline handler gateway"


class TestTokenCommand:
    async def test_issue_list_revoke(self, pool: asyncpg.Pool, database_url: str) -> None:
        """The token is printed once; the list never shows it; revoke works once."""
        args = ["token", "issue", "district-hexi", "--role", "handler", "--label", "河西 desk", "--by", "管理员"]
        r = await hotline(*args, database_url=database_url)
        assert r.code == 0, r.err
        token = r.out.strip()
        assert token.startswith("hl_")
        assert "shown only now" in r.err
        info = await tokens.verify(pool, token)
        assert info is not None
        assert (info.org, info.role.value, info.label, info.issued_by) == (
            "district-hexi",
            "handler",
            "河西 desk",
            "管理员",
        )
        listed = await hotline("token", "list", "--json", database_url=database_url)
        assert listed.code == 0
        assert token not in listed.out
        assert info.id in {json.loads(line)["id"] for line in listed.out.splitlines()}
        assert (await hotline("token", "revoke", str(info.id), database_url=database_url)).code == 0
        assert await tokens.verify(pool, token) is None
        again = await hotline("token", "revoke", str(info.id), database_url=database_url)
        assert again.code == 1
        assert "no active token" in again.err

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["token", "issue", "nobody", "--role", "handler"], "argument ORG: unknown org 'nobody'"),
            (["token", "issue", "center", "--role", "handler"], "argument --role: center cannot act as handler"),
            (["token", "issue", "hotline", "--role", "boss"], "argument --role: invalid choice"),
            (["token", "issue", "hotline", "--role", "hotline", "--by", " "], "argument --by: must not be empty"),
            (["token", "revoke", "seven"], "argument ID: 'seven' is not a token id"),
        ],
    )
    async def test_bad_arguments_exit_2_before_the_database(self, args: list[str], expected: str) -> None:
        """Named, exit 2, with no database to talk to."""
        r = await hotline(*args)
        assert r.code == 2, r.err
        assert expected in r.err
        assert "cannot reach the database" not in r.err
