"""Traces: OpenTelemetry spans for every request, database query, cache call and call between services.

Every service always takes part in W3C trace context (it continues the
caller's `traceparent` and passes it on), so trace ids link the JSON logs of
all services even with no collector. Spans are exported over OTLP/HTTP when
the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set,
e.g. to Jaeger or an OpenTelemetry Collector; `OTEL_TRACES_SAMPLER` and
`OTEL_TRACES_SAMPLER_ARG` choose how many traces are kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Any

import aiohttp
import httpx
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler
from sqlalchemy.ext.asyncio import AsyncEngine

from titanium import __version__

# Probes and scrapes would be most of the spans and say nothing.
UNTRACED_PATHS = "/health,/health/ready,/metrics"

_provider: TracerProvider | None = None


def exporting() -> bool:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return bool(endpoint) and os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"


def configure_tracing(service: str) -> TracerProvider:
    """The process's tracer provider, made on first use (one service a process)."""
    global _provider
    if _provider is None:
        resource = Resource.create({SERVICE_NAME: service, SERVICE_NAMESPACE: "titanium", SERVICE_VERSION: __version__})
        _provider = TracerProvider(resource=resource, sampler=_sampler())
        if exporting():
            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
        RedisInstrumentor().instrument(tracer_provider=_provider)
    return _provider


def _sampler() -> Sampler | None:
    """None (the SDK's choice from OTEL_TRACES_SAMPLER) when spans go somewhere.

    With nowhere to send them, no span is recorded: recording every request
    cost a third of the throughput (make bench), for nothing. Trace context
    is still continued and passed on, and the ids still reach the logs.
    """
    if exporting() or os.environ.get("OTEL_TRACES_SAMPLER"):
        return None
    return ALWAYS_OFF


def shutdown() -> None:
    """Send what is still buffered before the process ends."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def trace_engine(engine: AsyncEngine) -> None:
    # The instrumentor instruments once a process: in a service that is its
    # one engine (a test building several apps in one process traces the first).
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True)


def trace_httpx(client: httpx.AsyncClient) -> None:
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)


def aiohttp_trace_configs() -> list[aiohttp.TraceConfig]:
    return [create_trace_config(tracer_provider=_provider)]


def name_server_span(method: str, route: str, request_id: str) -> None:
    """Name the request's span by its route template, as the metrics are labelled."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("titanium.request_id", request_id)


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current trace and span ids, to go from a log line to its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event
