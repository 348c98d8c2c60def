"""Many registrations at once cannot take the users service past its memory limit (argon2id takes 64 MiB a hash)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.platform.harness import PASSWORD, PRODUCTION_HASHING, Client, Platform, unique

# The users pod's limit (deploy/k8s/base/patches/service-pod.yaml).
MEMORY_LIMIT_BYTES = 384 * 1024 * 1024


@pytest.fixture(scope="module")
def platform(own_platform) -> Platform:
    """A platform of its own: the users process's high-water mark is this test's."""
    return own_platform(env=PRODUCTION_HASHING)  # the default settings, timeouts and argon2id's 64 MiB included


def peak_resident_bytes(pid: int) -> int:
    """The most memory the process has ever held resident (the kernel's high-water mark)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def register(client: Client, name: str) -> httpx.Response:
    return client.http.post("/api/register", json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})


def test_forty_registrations_at_once_stay_under_the_memory_limit_and_none_is_half_made(platform):
    people = [(Client(platform.url), unique()) for _ in range(40)]  # each from an address of its own
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda person: register(*person), people))
    peak = peak_resident_bytes(platform.pid_of("users"))
    assert peak < MEMORY_LIMIT_BYTES, f"users peaked at {peak / 2**20:.0f} MiB"

    assert {answer.status_code for answer in answers} <= {201, 503}
    assert any(answer.status_code == 201 for answer in answers)
    # A refusal came before anything was made: the same registration, retried, succeeds.
    for (client, name), answer in zip(people, answers, strict=True):
        if answer.status_code == 503:
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["detail"] == "too many sign-ins and sign-ups at once; try again in a moment"
            assert client.http.get(f"/api/users/{name}").status_code == 404
            assert register(client, name).status_code == 201
