"""Metrics and traces of the processes: the SDK runtime's Prometheus endpoint, and OpenTelemetry.

Metrics. A process with ``HOTLINE_METRICS_PORT`` set (the worker, the gateway, the codec server;
`hotline dev` always) makes its Temporal runtime with a Prometheus endpoint on
``HOTLINE_METRICS_HOST:HOTLINE_METRICS_PORT`` (``/metrics``). The SDK's own metrics are there
(``temporal_*``: task latencies, slots, the sticky cache, polls, requests), and so are the
business's, recorded through the same runtime's meter (``hotline_*``): inside workflows through
`temporalio.workflow.metric_meter` (`workflows.metrics`, silent during replay), elsewhere through
`runtime(settings).metric_meter`. A command of the `hotline` CLI never opens an endpoint (a worker
in the same container holds the port).

Traces. With ``HOTLINE_OTLP_ENDPOINT`` set a process exports spans there (OTLP over HTTP), and every
client it connects carries the SDK's OpenTelemetry interceptor
(`temporalio.contrib.opentelemetry.OpenTelemetryInterceptor`, with the replay-safe tracer
provider it needs), so one action is one trace: the gateway's request or the client's update, the
workflow's handler, the record activity it schedules (`ActionTraceInterceptor`) and the
activity's database transaction (``activities.store.tracing``). Without the setting nothing is
traced and nothing is added to a client.
"""

from __future__ import annotations

import os
from typing import Any, Final

import opentelemetry.context
import opentelemetry.trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.opentelemetry import (
    OpenTelemetryInterceptor,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle

from starter.settings import Settings

#: The metrics endpoint's path (the SDK runtime answers 404 elsewhere).
METRICS_PATH: Final = "/metrics"

_runtimes: dict[str, Runtime] = {}
_exporting: set[str] = set()


class TelemetryError(RuntimeError):
    """Metrics or traces cannot be set up as configured; one line naming the setting."""


# -- metrics ---------------------------------------------------------------------------------------


def _bind_address(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"


def metrics_url(settings: Settings, port: int | None = None) -> str | None:
    """Where Prometheus scrapes this process (None: no endpoint)."""
    p = port if port is not None else settings.metrics_port
    if p is None:
        return None
    host = "localhost" if settings.metrics_host in {"127.0.0.1", "0.0.0.0", "::", "::1"} else settings.metrics_host
    return f"http://{_bind_address(host, p)}{METRICS_PATH}"


def runtime(settings: Settings, port: int | None = None) -> Runtime:
    """The process's Temporal runtime: with the Prometheus endpoint when a metrics port is set (or
    given), else the SDK's default runtime.

    One runtime per endpoint and process (an endpoint binds once); every client and worker of the
    process that should show in it is made with it (`starter.connection.connect`'s ``runtime``).

    Raises:
        TelemetryError: the endpoint's address cannot be bound (the message names the setting).
    """
    p = port if port is not None else settings.metrics_port
    if p is None:
        return Runtime.default()
    address = _bind_address(settings.metrics_host, p)
    found = _runtimes.get(address)
    if found is None:
        try:
            found = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
        except Exception as err:  # the core's bind error: a taken port, a foreign address
            raise TelemetryError(
                f"the metrics endpoint cannot listen on {address}: {str(err).splitlines()[0][:200]}; "
                "set HOTLINE_METRICS_PORT (or HOTLINE_METRICS_HOST) to move it"
            ) from None
        _runtimes[address] = found
    return found


# -- traces ----------------------------------------------------------------------------------------


def tracer_provider(service: str = "hotline") -> ReplaySafeTracerProvider:
    """The process's tracer provider, made global on first use (the first caller names the service).

    It is the SDK's replay-safe provider, which its workflow interceptor demands: spans made while a
    workflow replays are never exported, and span ids inside workflows are deterministic.
    """
    current = opentelemetry.trace.get_tracer_provider()
    if isinstance(current, ReplaySafeTracerProvider):
        return current
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service}
    provider = create_tracer_provider(resource=Resource.create(attributes))
    opentelemetry.trace.set_tracer_provider(provider)
    return provider


def tracing_enabled() -> bool:
    """Whether this process traces (its global tracer provider is the replay-safe one)."""
    return isinstance(opentelemetry.trace.get_tracer_provider(), ReplaySafeTracerProvider)


def _traces_url(endpoint: str) -> str:
    base = endpoint.strip().rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def enable_tracing(settings: Settings, service: str, *, batch: bool = True) -> bool:
    """Export this process's spans to ``HOTLINE_OTLP_ENDPOINT``; False (nothing done) when it is empty.

    Args:
        settings: The endpoint.
        service: The ``service.name`` of the spans (``OTEL_SERVICE_NAME`` overrides it).
        batch: Export in batches (a long-running process); False exports each span as it ends
            (a command that exits at once).
    """
    endpoint = settings.otlp_endpoint.strip()
    if not endpoint:
        return False
    if not endpoint.startswith(("http://", "https://")):
        raise TelemetryError(f"HOTLINE_OTLP_ENDPOINT={endpoint!r} is not an http(s) URL of an OTLP collector")
    url = _traces_url(endpoint)
    if url in _exporting:
        return True
    # a command that exits at once waits for each export: never long (a collector that is down)
    exporter = OTLPSpanExporter(endpoint=url) if batch else OTLPSpanExporter(endpoint=url, timeout=2)
    tracer_provider(service).add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    _exporting.add(url)
    return True


def flush_traces() -> None:
    """Export every span ended so far (before a process exits)."""
    if tracing_enabled():
        tracer_provider().force_flush(5_000)


def interceptors() -> list[Any]:
    """What a client (and the workers made from it) carries for tracing: nothing unless this process traces."""
    if not tracing_enabled():
        return []
    return [OpenTelemetryInterceptor(add_temporal_spans=True), ActionTraceInterceptor()]


class ActionTraceInterceptor(ClientInterceptor, Interceptor):
    """Puts the activity that follows an action into the action's trace.

    The SDK's interceptor runs an Update or Signal handler under the caller's trace, but the
    workflow schedules its record activity from its main loop, which runs under the trace that
    started the workflow. This interceptor (after the SDK's in the list) notes the trace of the
    latest action handled and starts the next activity under it, so the action's trace goes on to
    ``record_order`` and its SQL. It changes no command: only the span context an activity's
    headers carry.
    """

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        return _ActionTraceInbound


class _ActionTraceInbound(WorkflowInboundInterceptor):
    pending: Context | None = None

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_ActionTraceOutbound(outbound, self))

    def _note(self) -> None:
        current = opentelemetry.context.get_current()
        if opentelemetry.trace.get_current_span(current).get_span_context().is_valid:
            self.pending = current

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        self._note()
        return await super().handle_update_handler(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        self._note()
        await super().handle_signal(input)


class _ActionTraceOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, inbound: _ActionTraceInbound) -> None:
        super().__init__(next)
        self.inbound = inbound

    def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
        context, self.inbound.pending = self.inbound.pending, None
        if context is None:
            return super().start_activity(input)
        token = opentelemetry.context.attach(context)
        try:
            return super().start_activity(input)
        finally:
            opentelemetry.context.detach(token)
