"""One service in the foreground: `python -m titanium.server NAME`.

`titanium serve NAME`, the command people and containers use, becomes this
process (leaving the command-line tool's libraries, typer and click, behind);
`titanium up` runs the same `main` in each process it forks for a service
(service_processes.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette

from titanium.core.http_server import ConnectionLimits, guarded_protocol
from titanium.core.registry import SERVICE_NAMES


def build(service: str) -> Starlette:
    """The service's app, configured from the environment; pydantic's ValidationError when the configuration is not valid."""
    app: Starlette = importlib.import_module(f"titanium.services.{service}.app").build()
    return app


# Idle connections are kept longer than any client here keeps them (httpx 5 s,
# aiohttp 15 s): were the server to close first, a client could send on a
# connection just as it closes, and a POST cannot be sent again.
KEEP_ALIVE_SECONDS = 20


def run(app: Starlette) -> None:
    settings = app.state.settings
    limits = ConnectionLimits(max_head_bytes=settings.max_head_bytes, head_timeout=settings.head_timeout,
                              body_timeout=settings.body_timeout,
                              max_connections_per_client=settings.max_connections_per_client)
    uvicorn.run(
        app, host=settings.host, port=settings.port, loop="uvloop", http=guarded_protocol(limits),
        log_config=None, access_log=False, proxy_headers=False, server_header=False,
        timeout_graceful_shutdown=10, timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def settings_problem(exc: ValidationError) -> str:
    """What is wrong with a configuration, in the words of its validators."""
    return "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m titanium.server", description=__doc__)
    parser.add_argument("service", choices=SERVICE_NAMES)
    service = parser.parse_args(argv).service
    try:
        app = build(service)
    except ValidationError as exc:
        print(f"titanium: invalid configuration: {settings_problem(exc)}", file=sys.stderr)
        return 2
    run(app)
    return 0


if __name__ == "__main__":
    from titanium.core.runtime import leave_out_unused_libraries

    leave_out_unused_libraries()
    raise SystemExit(main())
