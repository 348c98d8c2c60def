"""The gateway answers browsers' cross-origin preflights for the RealWorld API, for the configured origins only."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from titanium.core.settings import GatewaySettings
from titanium.services.gateway.app import build

APP_ORIGIN = "http://127.0.0.1:5173"


async def preflight(settings: GatewaySettings, path: str, origin: str, method: str = "POST") -> httpx.Response:
    transport = httpx.ASGITransport(app=build(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                   "Access-Control-Request-Headers": "authorization,content-type"})


async def test_a_configured_origin_may_call_the_realworld_api():
    settings = GatewaySettings(cors_origins=f"{APP_ORIGIN}, https://conduit.example")
    answer = await preflight(settings, "/realworld/api/articles", APP_ORIGIN)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers, "tokens travel in a header, never cookies"


async def test_another_origin_and_other_paths_are_not_allowed():
    settings = GatewaySettings(cors_origins=APP_ORIGIN)
    refused = await preflight(settings, "/realworld/api/articles", "https://evil.example")
    assert refused.status_code == 400 and "origin" in refused.json()["detail"].lower()
    assert "access-control-allow-origin" not in refused.headers
    elsewhere = await preflight(settings, "/api/login", APP_ORIGIN)
    assert elsewhere.status_code == 405 and "access-control-allow-origin" not in elsewhere.headers


async def test_none_by_default():
    assert GatewaySettings().cors_origins == []
    answer = await preflight(GatewaySettings(), "/realworld/api/articles", APP_ORIGIN)
    assert answer.status_code == 405 and "access-control-allow-origin" not in answer.headers


def test_origins_are_read_from_the_environment_and_checked(monkeypatch):
    monkeypatch.setenv("TITANIUM_CORS_ORIGINS", "https://a.example, http://localhost:5173/")
    assert GatewaySettings().cors_origins == ["https://a.example", "http://localhost:5173"]
    for bad in ("*", "https://a.example/path", "ftp://a.example"):
        monkeypatch.setenv("TITANIUM_CORS_ORIGINS", bad)
        with pytest.raises(ValidationError, match="not a browser origin"):
            GatewaySettings()
