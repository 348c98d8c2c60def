"""Traces: OpenTelemetry spans for every request, database query, cache call and call between services.

Every service always takes part in W3C trace context (it continues the
caller's `traceparent` and passes it on), so trace ids link the JSON logs of
all services even with no collector. Spans are exported over OTLP/HTTP when
the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set,
e.g. to an OpenTelemetry Collector; `OTEL_TRACES_SAMPLER` and
`OTEL_TRACES_SAMPLER_ARG` choose how many traces are kept.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import MutableMapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from opentelemetry import context, propagate, trace
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from titanium import __version__
from titanium.core.paths import OPERATIONAL_PATHS

if TYPE_CHECKING:  # each service imports only the clients it uses; the SDK only where it exports
    import aiohttp
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

# Probes, scrapes and status checks would be most of the spans and say nothing.
UNTRACED_PATHS = ",".join(sorted(OPERATIONAL_PATHS))

_provider: TracerProvider | None = None


def exporting() -> bool:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return bool(endpoint) and os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"


def configure_tracing(service: str) -> TracerProvider | None:
    """The process's tracer provider when spans are exported, made on first use (one service a process); else None.

    The SDK, the exporter and the instrumentations are a process's largest
    imports (the SDK alone loads its metrics half too, 4 MB a process), and
    only a process that exports needs them: without one, the API alone
    continues and passes on the trace context.
    """
    global _provider
    if _provider is None and exporting():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_VERSION, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({SERVICE_NAME: service, SERVICE_NAMESPACE: "titanium", SERVICE_VERSION: __version__})
        _provider = TracerProvider(resource=resource)  # sampled as OTEL_TRACES_SAMPLER says
        trace.set_tracer_provider(_provider)
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        RedisInstrumentor().instrument(tracer_provider=_provider)
    return _provider


def add_server_spans(app: Starlette, tracer_provider: TracerProvider | None) -> None:
    """The outermost middleware: a span for each request, in the caller's trace.

    When spans are exported, OpenTelemetry's own ASGI middleware records them.
    When they are not, a span would cost a quarter of a request's time for
    nothing: the context is only continued, so that calls onward and log
    lines still carry the trace id.
    """
    if tracer_provider is not None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app.add_middleware(OpenTelemetryMiddleware, tracer_provider=tracer_provider, excluded_urls=UNTRACED_PATHS,
                           exclude_spans=["receive", "send"])
    else:
        app.add_middleware(TraceContextMiddleware)


_PROPAGATED_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


class TraceContextMiddleware:
    """Continues the caller's W3C trace context in a span that records nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope["headers"] if name in _PROPAGATED_HEADERS}
        parent = propagate.extract(carrier) if carrier else None
        span = unrecorded_span(trace.get_current_span(parent).get_span_context())
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


def inject_context(headers: MutableMapping[str, str]) -> None:
    """Pass the current trace context on in `headers` (traceparent, tracestate)."""
    propagate.inject(headers)


def untraced() -> AbstractContextManager[object]:
    """Within it, no instrumentation records a span: the database and cache calls of a probe would each start an orphan trace."""
    if _provider is None:
        return contextlib.nullcontext()
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()


def unrecorded_span(parent: trace.SpanContext) -> trace.NonRecordingSpan:
    """A span of this process in the caller's trace (a new trace when there is none), recording nothing.

    A new span id; the trace id, state and sampled flag kept from a valid
    parent, so that the caller's sampling decision reaches those after us;
    a new unsampled trace otherwise.
    """
    if parent.is_valid:
        trace_id, flags, state = parent.trace_id, parent.trace_flags, parent.trace_state
    else:
        trace_id, flags, state = random.getrandbits(128) or 1, trace.TraceFlags(trace.TraceFlags.DEFAULT), None
    span_id = random.getrandbits(64) or 1  # 0 is the invalid id
    return trace.NonRecordingSpan(trace.SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags,
                                                    trace_state=state))


def shutdown() -> None:
    """Send what is still buffered before the process ends."""
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)


def trace_engine(engine: AsyncEngine) -> None:
    """A span for each query, when spans are exported."""
    if not exporting():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        # It instruments once a process, and wraps SQLAlchemy's create_engine
        # as it does: the engines made after the first are traced already.
        return
    instrumentor.instrument(engine=engine.sync_engine, tracer_provider=_provider, skip_dep_check=True)


def trace_httpx(client: httpx.AsyncClient) -> None:
    """A client span for each call and the context passed on; only the context when nothing is exported."""
    if exporting():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)
    else:
        client.event_hooks["request"].append(_inject_into_httpx)


async def _inject_into_httpx(request: httpx.Request) -> None:
    inject_context(request.headers)


def aiohttp_trace_configs() -> list[aiohttp.TraceConfig]:
    """A client span for each forwarded request, when spans are exported (the context is passed on by the caller)."""
    if not exporting():
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [create_trace_config(tracer_provider=_provider)]


def name_server_span(method: str, route: str, request_id: str) -> None:
    """Name the request's span by its route template, as the metrics are labelled."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("titanium.request_id", request_id)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits (the W3C form), or None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


def current_trace_ids() -> dict[str, str]:
    """The current trace and span ids (none outside a trace), to go from a log line to its trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": format(span_context.trace_id, "032x"), "span_id": format(span_context.span_id, "016x")}


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current trace and span ids."""
    for key, value in current_trace_ids().items():
        event.setdefault(key, value)
    return event
