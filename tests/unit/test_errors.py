"""Only a dependency that does not answer is a 503; any other exception is a bug: a 500 with its traceback in the log."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from titanium.core.app import create_app
from titanium.core.settings import ServiceSettings


class PostgresError(Exception):
    """What SQLAlchemy's asyncpg adapter wraps: an error carrying PostgreSQL's SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


FAILURES: dict[str, Exception] = {
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "http-client": httpx.ConnectError("no route"),
    "shutting-down": DBAPIError("SELECT 1", {}, PostgresError("57P01")),
    "starting-up": DBAPIError("SELECT 1", {}, PostgresError("57P03")),
    "missing-file": FileNotFoundError(2, "No such file", "/nowhere"),
    "permission": PermissionError(13, "Permission denied"),
    "bad-query": DBAPIError("SELEC 1", {}, PostgresError("42601")),
    "bug": KeyError("user_id"),
}


@pytest.fixture
def client():
    app = create_app("unit-errors", ServiceSettings(), app_class=FastAPI)

    @app.get("/fail/{kind}")
    async def fail(kind: str) -> None:
        raise FAILURES[kind]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://unit")


@pytest.mark.parametrize("kind", ["refused", "http-client", "shutting-down", "starting-up"])
async def test_a_dependency_that_does_not_answer_is_503_retry_after(client, kind):
    answer = await client.get(f"/fail/{kind}")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert answer.json() == {"detail": "a service this request needs is unavailable; try again shortly"}


@pytest.mark.parametrize("kind", ["missing-file", "permission", "bad-query", "bug"])
async def test_anything_else_is_a_500_with_its_traceback_logged(client, caplog, kind):
    answer = await client.get(f"/fail/{kind}")
    assert answer.status_code == 500 and answer.json() == {"detail": "Internal server error"}
    assert "retry-after" not in answer.headers, "not an outage: trying again will not help"
    logged = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    failure = next(line for line in logged if line.get("event") == "unhandled error")
    assert "Traceback" in failure["exception"] and type(FAILURES[kind]).__name__ in failure["exception"]
    assert "Traceback" not in answer.text


def test_the_postgres_errors_are_asyncpgs():
    # What the fakes above stand for: asyncpg's own errors carry these SQLSTATEs.
    assert asyncpg.exceptions.AdminShutdownError.sqlstate == "57P01"
    assert asyncpg.exceptions.CannotConnectNowError.sqlstate == "57P03"
