"""Traces kept in memory: the process's replay-safe tracer provider with an in-memory exporter, for a block.

The provider is the one `starter.telemetry` sets up for HOTLINE_OTLP_ENDPOINT, with an
`InMemorySpanExporter` instead of the collector. OpenTelemetry sets a global tracer provider once per
process; after the block the global is put back as it was (through OpenTelemetry's private globals,
for the tests alone), so later tests connect without the tracing interceptors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import opentelemetry.trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once
from temporalio.contrib.opentelemetry import ReplaySafeTracerProvider

from starter import telemetry

_provider: list[ReplaySafeTracerProvider] = []


@contextmanager
def in_memory_tracing() -> Iterator[InMemorySpanExporter]:
    """Trace into memory for the block; every span ended is in the exporter's `get_finished_spans()`.

    Every block installs the same provider: a module's tracer, once it made a span, keeps the
    provider it was made under.
    """
    before = opentelemetry.trace._TRACER_PROVIDER
    if before is None and _provider:
        opentelemetry.trace.set_tracer_provider(_provider[0])
    provider = telemetry.tracer_provider("hotline-test")
    if not _provider:
        _provider.append(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert telemetry.tracing_enabled()
    try:
        yield exporter
    finally:
        exporter.shutdown()  # spans of this provider that outlive the block go nowhere
        if before is None:
            opentelemetry.trace._TRACER_PROVIDER = None
            opentelemetry.trace._TRACER_PROVIDER_SET_ONCE = Once()
