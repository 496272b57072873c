"""A TLS front for the dev server, the way a production cluster or Temporal Cloud looks to a worker.

A gRPC server (grpcio, a dev dependency) on a loopback port that forwards every call, as bytes, to
the plaintext dev server behind it. It can

- terminate TLS with a certificate of the test's own CA (HTTP/2 over TLS: ALPN ``h2``, which
  grpcio negotiates);
- demand a client certificate signed by that CA (mutual TLS);
- demand ``authorization: Bearer <key>`` on every call, as Temporal Cloud does with an API key
  (a call without it, or with another key, is refused ``UNAUTHENTICATED``).

Temporal's frontend speaks only unary calls, so one generic unary handler forwards them all,
metadata and error details (``grpc-status-details-bin``) included.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# grpcio's C core logs every refused handshake on stderr; the tests refuse handshakes on purpose
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc
import grpc.aio

from tests.support.ports import free_port
from tests.support.tls import Pair

#: Metadata not passed on: the caller's credential (checked here) and what gRPC sets itself.
_DROPPED = ("authorization", "grpc-", ":", "user-agent")


class _Forward(grpc.GenericRpcHandler):
    def __init__(self, upstream: str, api_key: str | None, seen: list[str]) -> None:
        self.upstream = upstream
        self.api_key = api_key
        self.seen = seen
        self.channel: grpc.aio.Channel | None = None

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]

        async def forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            metadata = [(k, v) for k, v in context.invocation_metadata() or ()]
            auth = next((str(v) for k, v in metadata if k == "authorization"), None)
            self.seen.append(method.rsplit("/", 1)[-1])
            if self.api_key is not None and auth != f"Bearer {self.api_key}":
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "the API key is not accepted")
            if self.channel is None:
                self.channel = grpc.aio.insecure_channel(self.upstream)
            passed = [(k, v) for k, v in metadata if not k.startswith(_DROPPED)]
            remaining = context.time_remaining()
            try:
                return await self.channel.unary_unary(method)(  # type: ignore[no-any-return]
                    request, metadata=passed, timeout=remaining if remaining and remaining < 1e6 else None
                )
            except grpc.aio.AioRpcError as err:
                await context.abort(err.code(), err.details() or "", err.trailing_metadata())
                raise  # unreachable: abort raises

        return grpc.unary_unary_rpc_method_handler(forward)


class GrpcFront:
    """The front, served by a loop on a thread of its own (so sync and async tests can use it).

    Args:
        upstream: The plaintext dev server (host:port).
        server: The server's certificate (None: plaintext, for the API key alone).
        client_ca: Demand client certificates signed by this CA (mutual TLS).
        api_key: Demand ``authorization: Bearer <api_key>``.
    """

    def __init__(
        self,
        upstream: str,
        *,
        server: Pair | None = None,
        client_ca: bytes | None = None,
        api_key: str | None = None,
    ) -> None:
        self.port = free_port()
        self.upstream = upstream
        self.server_pair = server
        self.client_ca = client_ca
        self.api_key = api_key
        #: the methods called through the front, in order (e.g. ``GetSystemInfo``)
        self.calls: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="grpc-front", daemon=True)
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _start(self) -> None:
        server = grpc.aio.server(handlers=[_Forward(self.upstream, self.api_key, self.calls)])
        if self.server_pair is None:
            server.add_insecure_port(self.address)
        else:
            creds = grpc.ssl_server_credentials(
                [(self.server_pair.key_pem, self.server_pair.cert_pem)],
                root_certificates=self.client_ca,
                require_client_auth=self.client_ca is not None,
            )
            server.add_secure_port(self.address, creds)
        await server.start()
        self._server = server

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=1)

    def start(self) -> GrpcFront:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextmanager
def grpc_front(upstream: str, **options: Any) -> Iterator[GrpcFront]:
    """A `GrpcFront` for the block."""
    front = GrpcFront(upstream, **options).start()
    try:
        yield front
    finally:
        front.stop()
