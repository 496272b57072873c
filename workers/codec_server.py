"""The codec server: the Temporal Web UI (and the `temporal` CLI) decrypt payloads through it.

It speaks Temporal's remote codec protocol: ``POST …/encode`` and ``POST …/decode`` take
``{"payloads": [{"metadata": {key: base64}, "data": base64}, …]}`` (the protobuf JSON of
``temporalio.api.common.v1.Payloads``) and answer the same shape, encoded or decoded with the
project's `EncryptionCodec`. Only the last path segment counts, so ``/default/decode`` works too
(the CLI's ``--codec-endpoint`` templating). The UI calls it from the browser: CORS allows the
UI's origin alone, with credentials, and the headers the UI sends (``Content-Type``,
``X-Namespace``, ``Authorization``).

Whoever reaches ``/decode`` reads every reporter's name and phone, so:

- on loopback (the `hotline dev` default, ``127.0.0.1``) only this machine's users reach it and no
  token is asked for;
- on any other address every ``/encode`` and ``/decode`` needs ``Authorization: Bearer <token>``
  that ``verify_token`` accepts; otherwise 401 and nothing is decoded. Without a ``verify_token``
  such a server does not start at all.

With ``HOTLINE_METRICS_PORT`` set it counts its requests on a Prometheus endpoint of its own
(``hotline_codec_requests_total{op,status}``, ``hotline_codec_payloads_total{op}``;
`starter.telemetry`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlsplit

import structlog
import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.common import MetricMeter

from activities.store import tokens
from activities.store.db import create_pool
from starter import telemetry
from starter.codec import CodecError, EncryptionCodec, KeyRing
from starter.settings import Settings

log = structlog.get_logger(__name__)

TokenVerifier = Callable[[str], Awaitable[bool]]

#: The headers the Web UI sends with its codec requests.
ALLOWED_HEADERS: Final = ["Content-Type", "X-Namespace", "Authorization"]
#: Larger bodies are refused before parsing (a history page is far below this).
MAX_BODY_BYTES: Final = 32 * 1024 * 1024
_LOOPBACK_NAMES: Final = {"localhost", "ip6-localhost"}


class CodecServerError(RuntimeError):
    """The codec server cannot start; the message is one line naming the fault and the setting."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is reachable from this machine only."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


def ui_origins(origins: str | Sequence[str]) -> list[str]:
    """The CORS origins for the UI at ``origins``: each one, plus its loopback alias.

    A browser sends whichever host was typed, so ``http://localhost:8233`` also allows
    ``http://127.0.0.1:8233`` and the other way round.
    """
    wanted = [origins] if isinstance(origins, str) else list(origins)
    out: list[str] = []
    for origin in wanted:
        origin = origin.rstrip("/")
        parts = urlsplit(origin)
        same = [origin]
        if parts.hostname in {"localhost", "127.0.0.1"}:
            port = f":{parts.port}" if parts.port else ""
            same = [f"{parts.scheme}://{host}{port}" for host in ("localhost", "127.0.0.1")]
        out += [o for o in same if o not in out]
    return out


def create_app(
    keyring: KeyRing,
    *,
    ui_origin: str | Sequence[str],
    require_token: bool,
    verify_token: TokenVerifier | None = None,
    meter: MetricMeter | None = None,
) -> FastAPI:
    """The codec server's ASGI app.

    Args:
        keyring: The keys; the newest encodes, all decode.
        ui_origin: The Web UI's origin(s), e.g. ``http://localhost:8233``; CORS allows these alone.
        require_token: Demand ``Authorization: Bearer <token>`` on ``/encode`` and ``/decode``.
        verify_token: Says whether a bearer token may use the codec; required with ``require_token``.
        meter: Where its requests are counted (`starter.telemetry.runtime`); default: nowhere.

    Raises:
        CodecServerError: ``require_token`` without ``verify_token`` (the server would be open).
    """
    if require_token and verify_token is None:
        raise CodecServerError("the codec server demands tokens but has no way to verify them (verify_token)")
    codec = EncryptionCodec(keyring)
    app = FastAPI(title="Tianjin hotline codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=ui_origins(ui_origin),
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=ALLOWED_HEADERS,
        max_age=600,
    )

    meter = meter or MetricMeter.noop
    requests = meter.create_counter("hotline_codec_requests_total", "codec server requests, by answer")
    payloads_done = meter.create_counter("hotline_codec_payloads_total", "payloads encoded or decoded")

    async def apply(request: Request, op: str) -> Response:
        response = await _apply(request, op)
        requests.add(1, {"op": op, "status": str(response.status_code)})
        return response

    async def _apply(request: Request, op: str) -> Response:
        namespace = request.headers.get("x-namespace", "")
        if require_token:
            assert verify_token is not None
            refused = await _refused(request, verify_token)
            if refused is not None:
                log.warning("codec.refused", op=op, namespace=namespace, status=refused.status_code)
                return refused
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"the body is {len(body)} bytes; at most {MAX_BODY_BYTES}")
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
        except json_format.ParseError as err:
            return _error(400, f'expected {{"payloads": [{{"metadata": …, "data": …}}]}}: {err}')
        try:
            fn = codec.encode if op == "encode" else codec.decode
            result = Payloads(payloads=await fn(payloads.payloads))
        except CodecError as err:
            log.warning("codec.failed", op=op, namespace=namespace, error=str(err))
            return _error(400, str(err))
        log.info(f"codec.{op}d", namespace=namespace, payloads=len(result.payloads))
        payloads_done.add(len(result.payloads), {"op": op})
        return Response(json_format.MessageToJson(result), media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await apply(request, "encode")

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await apply(request, "decode")

    @app.post("/{prefix:path}/encode")
    async def encode_under(request: Request, prefix: str) -> Response:
        return await apply(request, "encode")

    @app.post("/{prefix:path}/decode")
    async def decode_under(request: Request, prefix: str) -> Response:
        return await apply(request, "decode")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "current_key": codec.keyring.newest, "tokens_required": require_token}

    return app


async def _refused(request: Request, verify_token: TokenVerifier) -> Response | None:
    """A 401 (or 503) when the request has no token that ``verify_token`` accepts, else None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _error(401, "a bearer token is required (Authorization: Bearer <token>)", bearer=True)
    try:
        accepted = await verify_token(token)
    except Exception:
        log.exception("codec.token_check_failed")
        return _error(503, "tokens cannot be checked now; try again")
    if not accepted:
        return _error(401, "the token is not accepted for decoding payloads", bearer=True)
    return None


def _error(status: int, detail: str, *, bearer: bool = False) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if bearer else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


# -- running it ------------------------------------------------------------------------------------


class _InLoopServer(uvicorn.Server):
    """uvicorn without its own signal handling: the process's loop owns SIGINT/SIGTERM."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class CodecServer:
    """The codec server on ``host:port``, served by the current event loop.

    Args:
        app: The ASGI app (`create_app`).
        host: Bind address.
        port: Port.
    """

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            app,
            log_config=None,  # our logging is set up once, in workers.logging
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = _InLoopServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The server's URL as a client on this machine reaches it."""
        host = "localhost" if self.host in {"127.0.0.1", "0.0.0.0", "::", "::1"} else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind (failing at once if the port is taken) and serve in the background.

        Raises:
            OSError: the address cannot be bound.
        """
        sock = socket.create_server((self.host.strip("[]"), self.port), family=_family(self.host))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="codec-server")
        log.info("codec_server.started", url=f"http://{self.host}:{self.port}")

    async def stop(self) -> None:
        """Stop accepting, finish what is in flight (2 s at most), return."""
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        await task
        log.info("codec_server.stopped")

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (or the server ends by itself), then stop."""
        if self._task is None:
            raise RuntimeError("the codec server was not started")
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            await self.stop()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


async def run_codec_server(
    settings: Settings,
    keyring: KeyRing,
    *,
    stop: asyncio.Event,
    verify_token: TokenVerifier | None = None,
    ui_origin: str | Sequence[str] | None = None,
) -> None:
    """Serve on ``HOTLINE_CODEC_HOST:HOTLINE_CODEC_PORT`` until ``stop`` is set.

    Args:
        settings: Host and port (``HOTLINE_CODEC_*``), the UI's port for the default origin.
        keyring: The keys.
        stop: Set it to stop the server.
        verify_token: Token check; required when the host is not loopback.
        ui_origin: The Web UI's origin(s); default ``http://localhost:<HOTLINE_UI_PORT>``.

    Raises:
        CodecServerError: the port is taken, or tokens are required and cannot be verified.
    """
    require = not is_loopback(settings.codec_host)
    if require and verify_token is None:
        raise CodecServerError(
            f"HOTLINE_CODEC_HOST={settings.codec_host} is reachable from other machines, so the codec server "
            "demands operator tokens, and it has no token store to check them against; bind 127.0.0.1, "
            "or give it HOTLINE_DATABASE_URL with the gateway's tokens"
        )
    try:
        meter = telemetry.runtime(settings).metric_meter
    except telemetry.TelemetryError as err:
        raise CodecServerError(str(err)) from None
    app = create_app(
        keyring,
        ui_origin=ui_origin or f"http://localhost:{settings.ui_port}",
        require_token=require,
        verify_token=verify_token,
        meter=meter,
    )
    server = CodecServer(app, host=settings.codec_host, port=settings.codec_port)
    try:
        await server.start()
    except OSError as err:
        raise CodecServerError(
            f"port {settings.codec_port} (codec server) cannot be bound on {settings.codec_host}: "
            f"{err.strerror}; set HOTLINE_CODEC_PORT to move it"
        ) from None
    await server.serve_until(stop)


#: Roles whose tokens may decode payloads: the commission's platform operators and supervisors.
#: Units (handlers) and the city hotline read orders through the gateway, which shows each what
#: the contract lets it see (a confidential reporter stays hidden); the codec would show all.
CODEC_ROLES: Final = frozenset({"operator", "supervisor"})


def gateway_token_verifier(pool: Any) -> TokenVerifier:
    """A `TokenVerifier` on the handler gateway's tokens (``activities.store.tokens.verify``).

    A token is accepted when it verifies (known, not revoked) and acts in one of `CODEC_ROLES`.
    Each check is logged with the token's id, org and role (never the token).

    Args:
        pool: An ``asyncpg.Pool`` on the hotline database (where ``api_tokens`` lives).
    """

    async def verify(token: str) -> bool:
        info = await tokens.verify(pool, token)
        if info is None:
            log.warning("codec.token_unknown")
            return False
        accepted = str(info.role) in CODEC_ROLES
        log.info("codec.token", token_id=info.id, org=info.org, role=str(info.role), accepted=accepted)
        return accepted

    return verify


async def run_codec_process(settings: Settings, keyring: KeyRing, *, ui_origin: Sequence[str] | None = None) -> None:
    """The codec server as a process of its own (`hotline codec-server`), until SIGINT or SIGTERM.

    Off loopback it checks every request's token against the gateway's tokens in
    ``HOTLINE_DATABASE_URL``.

    Raises:
        CodecServerError: the port is taken, or the token store does not answer.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pool = None
    verify = None
    if not is_loopback(settings.codec_host):
        try:
            pool = await asyncio.wait_for(create_pool(settings.database_url, max_size=4), timeout=30)
        except Exception as err:  # refused, unreachable, bad password, timeout: all one answer
            raise CodecServerError(
                f"the token store (HOTLINE_DATABASE_URL) does not answer: {err}; "
                "off loopback the codec server checks every request's token there"
            ) from None
        verify = gateway_token_verifier(pool)
    try:
        await run_codec_server(settings, keyring, stop=stop, verify_token=verify, ui_origin=ui_origin)
    finally:
        if pool is not None:
            await pool.close()
