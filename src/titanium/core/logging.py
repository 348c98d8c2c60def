"""JSON logs on stdout, one object a line, for Loki.

Every line carries the service name and, inside a request, its request id
(bound by the request middleware through structlog's context variables) and
its trace and span ids.
Standard-library loggers (uvicorn, SQLAlchemy, alembic) go through the same
renderer so that nothing else reaches stdout in another shape.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from titanium.core.tracing import add_trace_ids

_shared_processors: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    add_trace_ids,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
]


# Libraries whose info lines are noise here; their warnings still show.
THIRD_PARTY_LOGGERS = ("httpx", "httpcore", "aiohttp", "asyncio", "sqlalchemy", "alembic", "aiosqlite", "asyncpg",
                       "redis", "urllib3", "multipart", "opentelemetry")


def configure_logging(service: str, level: str = "INFO") -> None:
    structlog.configure(
        processors=[*_shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors,
        processors=[
            _add_service(service),
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; route them to ours. Requests are
    # logged by our middleware with the route and request id, so the access
    # log would only say it twice.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Client libraries log at info and debug what our own lines say already
    # (httpx every call it makes: 41 % of auth's log, and each call is in the
    # access log of the service called): only their warnings and errors.
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _add_service(service: str) -> structlog.types.Processor:
    def add(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    return add


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
