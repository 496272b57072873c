"""The codec server as the Web UI and the `temporal` CLI call it: decode, CORS, tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from activities.store import tokens
from domain.models import Role
from starter.codec import EncryptionCodec, KeyRing
from starter.settings import Settings
from tests.support.ports import free_port
from workers.codec_server import (
    CodecServerError,
    create_app,
    gateway_token_verifier,
    is_loopback,
    run_codec_server,
    ui_origins,
)

RING = KeyRing([("k1", bytes(range(32)))])
UI = "http://localhost:8233"
GOOD_TOKEN = "hl_good"
REPORTER = {"name": "保密人王五", "phone": "13912345678"}


async def _verify(token: str) -> bool:
    return token == GOOD_TOKEN


async def _encrypted() -> dict[str, object]:
    """A request body as the UI sends it: one payload the codec encrypted."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(REPORTER, ensure_ascii=False).encode())
    [enc] = await EncryptionCodec(RING).encode([plain])
    return json.loads(json_format.MessageToJson(Payloads(payloads=[enc])))


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec.test")


@pytest.fixture
async def open_server() -> AsyncIterator[httpx.AsyncClient]:
    """The loopback default: no token asked."""
    async with _client(create_app(RING, ui_origin=UI, require_token=False)) as c:
        yield c


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    """A server off loopback: bearer tokens required."""
    async with _client(create_app(RING, ui_origin=UI, require_token=True, verify_token=_verify)) as c:
        yield c


class TestDecode:
    async def test_decode_returns_the_plaintext(self, open_server: httpx.AsyncClient) -> None:
        """/decode of a payload the codec encrypted answers the original payload, as the UI reads it."""
        r = await open_server.post("/decode", json=await _encrypted(), headers={"X-Namespace": "default"})
        assert r.status_code == 200, r.text
        [payload] = r.json()["payloads"]
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
        assert json.loads(base64.b64decode(payload["data"])) == REPORTER

    async def test_encode_then_decode(self, open_server: httpx.AsyncClient) -> None:
        """/encode encrypts under the current key (what `temporal workflow start --input` uses)."""
        body = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()}, "data": "IjEi"}]}
        enc = (await open_server.post("/encode", json=body)).json()
        [p] = enc["payloads"]
        assert base64.b64decode(p["metadata"]["encryption-key-id"]) == b"k1"
        dec = (await open_server.post("/default/decode", json=enc)).json()  # the CLI's {namespace}/decode
        assert dec == body

    async def test_a_payload_under_an_unknown_key_is_a_400_naming_it(self, open_server: httpx.AsyncClient) -> None:
        """The UI shows the reason; nothing is decoded."""
        [enc] = await EncryptionCodec(KeyRing([("k9", bytes(32))])).encode([Payload(data=b"x")])
        r = await open_server.post("/decode", json=json.loads(json_format.MessageToJson(Payloads(payloads=[enc]))))
        assert r.status_code == 400
        assert "'k9'" in r.json()["detail"]

    async def test_not_payloads_is_a_400(self, open_server: httpx.AsyncClient) -> None:
        """A body that is not the protocol's shape is refused with what was expected."""
        r = await open_server.post("/decode", content=b'{"payloads": 3}', headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        assert "payloads" in r.json()["detail"]

    async def test_health(self, open_server: httpx.AsyncClient) -> None:
        """GET /health answers with the current key id (never a key)."""
        r = await open_server.get("/health")
        assert r.json() == {"status": "ok", "current_key": "k1", "tokens_required": False}


class TestCors:
    @pytest.mark.parametrize("origin", ["http://localhost:8233", "http://127.0.0.1:8233"])
    async def test_preflight_from_the_ui_is_allowed(self, open_server: httpx.AsyncClient, origin: str) -> None:
        """The UI's origin (as localhost or 127.0.0.1) may POST with credentials and its headers."""
        r = await open_server.options(
            "/decode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin
        assert r.headers["access-control-allow-credentials"] == "true"
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"content-type", "x-namespace", "authorization"} <= allowed

    @pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:9999", "null"])
    async def test_preflight_from_elsewhere_is_refused(self, open_server: httpx.AsyncClient, origin: str) -> None:
        """Any other origin gets no CORS grant: the browser will not send the request."""
        r = await open_server.options(
            "/decode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers

    async def test_the_answer_carries_the_grant(self, open_server: httpx.AsyncClient) -> None:
        """The POST's answer names the UI's origin, so the browser lets the UI read it."""
        r = await open_server.post("/decode", json=await _encrypted(), headers={"Origin": UI})
        assert r.headers["access-control-allow-origin"] == UI

    def test_origins(self) -> None:
        """A loopback UI origin brings its alias; another origin stands alone."""
        assert ui_origins("http://localhost:8233/") == ["http://localhost:8233", "http://127.0.0.1:8233"]
        assert ui_origins(["https://ui.hotline.example"]) == ["https://ui.hotline.example"]


class TestTokens:
    @pytest.mark.parametrize("path", ["/decode", "/encode", "/default/decode"])
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic aGk6aGk="}, {"Authorization": "Bearer hl_bad"}],
        ids=["none", "empty", "basic", "bad"],
    )
    async def test_without_a_good_token_401_and_nothing_decoded(
        self, guarded: httpx.AsyncClient, path: str, headers: dict[str, str]
    ) -> None:
        """No token, an empty one, another scheme, or a token the verifier refuses: 401."""
        r = await guarded.post(path, json=await _encrypted(), headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert "王五" not in r.text
        assert "payloads" not in r.json()

    async def test_a_good_token_decodes(self, guarded: httpx.AsyncClient) -> None:
        """`Authorization: Bearer <accepted token>`: 200 and the plaintext."""
        r = await guarded.post("/decode", json=await _encrypted(), headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
        assert r.status_code == 200
        assert json.loads(base64.b64decode(r.json()["payloads"][0]["data"])) == REPORTER

    async def test_a_401_still_reaches_the_ui(self, guarded: httpx.AsyncClient) -> None:
        """The refusal carries the CORS grant, so the UI can show it instead of a network error."""
        r = await guarded.post("/decode", json=await _encrypted(), headers={"Origin": UI})
        assert r.status_code == 401
        assert r.headers["access-control-allow-origin"] == UI

    async def test_the_preflight_needs_no_token(self, guarded: httpx.AsyncClient) -> None:
        """Browsers send preflights without credentials; they are answered all the same."""
        r = await guarded.options(
            "/decode",
            headers={
                "Origin": UI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert r.status_code == 200

    async def test_a_failing_token_store_is_a_503(self) -> None:
        """When tokens cannot be checked nothing is decoded."""

        async def broken(token: str) -> bool:
            raise ConnectionError("database down")

        app = create_app(RING, ui_origin=UI, require_token=True, verify_token=broken)
        async with _client(app) as c:
            r = await c.post("/decode", json=await _encrypted(), headers={"Authorization": "Bearer hl_x"})
        assert r.status_code == 503
        assert "王五" not in r.text

    def test_tokens_without_a_verifier_refuse_to_start(self) -> None:
        """require_token without verify_token would be an open server: refused."""
        with pytest.raises(CodecServerError, match="verify_token"):
            create_app(RING, ui_origin=UI, require_token=True)

    @pytest.mark.parametrize(
        ("host", "loopback"),
        [
            ("127.0.0.1", True),
            ("localhost", True),
            ("::1", True),
            ("0.0.0.0", False),
            ("10.1.2.3", False),
            ("codec", False),
        ],
    )
    def test_which_binds_need_tokens(self, host: str, loopback: bool) -> None:
        """Only loopback addresses go without tokens; host names count as reachable."""
        assert is_loopback(host) is loopback


class TestRunning:
    async def test_serves_in_this_loop_until_stopped(self) -> None:
        """run_codec_server: on loopback it answers without a token, and stops when asked."""
        settings = replace(Settings.from_env({}), codec_host="127.0.0.1", codec_port=free_port())
        stop = asyncio.Event()
        task = asyncio.create_task(run_codec_server(settings, RING, stop=stop))
        url = f"http://127.0.0.1:{settings.codec_port}"
        async with httpx.AsyncClient(base_url=url) as c:
            for _ in range(50):
                try:
                    health = await c.get("/health")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert health.json()["tokens_required"] is False
            r = await c.post("/decode", json=await _encrypted())
            assert r.status_code == 200
        stop.set()
        await asyncio.wait_for(task, 5)

    async def test_off_loopback_without_a_token_store_does_not_start(self) -> None:
        """0.0.0.0 with no verifier: a one-line refusal naming the setting; nothing listens."""
        settings = replace(Settings.from_env({}), codec_host="0.0.0.0", codec_port=free_port())
        with pytest.raises(CodecServerError, match=r"HOTLINE_CODEC_HOST=0\.0\.0\.0 is reachable from other machines"):
            await run_codec_server(settings, RING, stop=asyncio.Event())

    async def test_a_taken_port_names_the_setting(self) -> None:
        """The port in use: the error names it and HOTLINE_CODEC_PORT."""

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            settings = replace(Settings.from_env({}), codec_host="127.0.0.1", codec_port=port)
            with pytest.raises(CodecServerError, match=f"port {port} .*set HOTLINE_CODEC_PORT"):
                await run_codec_server(settings, RING, stop=asyncio.Event())


class TestGatewayTokens:
    async def test_operators_and_supervisors_decode_others_do_not(self, pool: asyncpg.Pool) -> None:
        """With the gateway's tokens: an operator's or supervisor's decodes; a unit's, the hotline's,
        a revoked or an unknown one gets 401."""

        issued = {
            who: (await tokens.issue(pool, org, role, label="codec test", issued_by="test")).token
            for who, org, role in (
                ("operator", "center", Role.OPERATOR),
                ("supervisor", "dept-hotline", Role.SUPERVISOR),
                ("handler", "dept-roads", Role.HANDLER),
                ("hotline", "hotline", Role.HOTLINE),
                ("revoked", "center", Role.OPERATOR),
            )
        }
        [revoked] = [t for t in await tokens.list_tokens(pool) if t.label == "codec test"][-1:]
        assert await tokens.revoke(pool, revoked.id)
        app = create_app(RING, ui_origin=UI, require_token=True, verify_token=gateway_token_verifier(pool))
        body = await _encrypted()
        async with _client(app) as c:

            async def status(token: str) -> int:
                r = await c.post("/decode", json=body, headers={"Authorization": f"Bearer {token}"})
                return r.status_code

            assert await status(issued["operator"]) == 200
            assert await status(issued["supervisor"]) == 200
            assert await status(issued["handler"]) == 401
            assert await status(issued["hotline"]) == 401
            assert await status(issued["revoked"]) == 401
            assert await status("hl_" + "x" * 43) == 401
