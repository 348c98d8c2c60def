from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.manifests import OVERLAYS, build


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """(name, objects) of each Kustomize overlay, built once."""
    return request.param, build(request.param)


@pytest.fixture(scope="session")
def production() -> list[dict[str, Any]]:
    return build("production")
