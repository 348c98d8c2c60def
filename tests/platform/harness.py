"""The whole platform as a person starts it: `titanium up` in a process of its own."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from titanium.core.registry import REPLICA_PORT_STEP, SERVICE_NAMES, parse_replicas, replica_ports
from titanium.core.registry import SERVICES as REGISTRY

SERVICES = SERVICE_NAMES
PORT_OFFSETS = {entry.name: entry.port_offset for entry in REGISTRY}


def free_port_block(size: int = 6) -> int:
    """A base port with `size` free ports from it, away from the usual 8000s."""
    for _ in range(200):
        base = random.randrange(20_000, 40_000, 10)
        if all(_free(base + offset) for offset in range(size)):
            return base
    raise RuntimeError("no free block of ports found")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Platform:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}
        # Every port of every process: a service's further processes listen 10 ports up each.
        most = max(parse_replicas(self.env.get("TITANIUM_REPLICAS", "")).values(), default=1)
        self.base_port = free_port_block(REPLICA_PORT_STEP * (most - 1) + max(PORT_OFFSETS.values()) + 1)
        self.output_path = data_dir / "supervisor.out"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.base_port + PORT_OFFSETS[name]}"

    def start(self, timeout: float = 90.0) -> Platform:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "titanium", "up", "--base-port", str(self.base_port),
                 "--data-dir", str(self.data_dir)],
                env=self.env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"titanium up exited with {self.process.returncode}:\n{self.output()}")
            if "press Ctrl-C to stop" in self.output():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"titanium up did not get ready in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def log(self, service: str) -> str:
        return (self.data_dir / "logs" / f"{service}.log").read_text(errors="replace")

    def stats(self) -> dict:
        # From the dashboard itself, which the gateway's /stats forwards to:
        # the tests' polling must not spend any client's request budget.
        return httpx.get(f"{self.service_url('dashboard')}/api/stats", timeout=5).json()

    def pid_of(self, service: str, replica: int = 0) -> int | None:
        """The process id of the service's `replica`-th process (0: the first), as the supervisor started it;
        None while there is none.

        Read from the process table, not from the service: it holds while the service does not answer.
        """
        assert self.process is not None
        port = str(replica_ports(self.base_port, replica)[service])
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().split(b"\0")
                environment = (entry / "environ").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if (parent == self.process.pid and command[-3:-1] == [b"titanium.server", service.encode()]
                    and f"TITANIUM_PORT={port}".encode() in environment):
                return int(entry.name)
        return None

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def wait_until(condition, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s")


def logged_request(platform: Platform, service: str, marker: str) -> dict | None:
    """The service's access-log entry (written once it has answered) that mentions `marker`, if written yet."""
    for line in platform.log(service).splitlines():
        if marker in line and (entry := json.loads(line)).get("event") == "request":
            return entry
    return None


def unique(prefix: str = "user") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def loopback_address() -> str:
    """An address of its own for each person: all of 127/8 is loopback, and rate limits count per address."""
    return f"127.{random.randrange(1, 255)}.{random.randrange(0, 256)}.{random.randrange(1, 255)}"


PASSWORD = "correct horse battery"


class Client:
    """A person using the platform through the gateway, from an address of their own."""

    def __init__(self, base_url: str, address: str | None = None) -> None:
        self.address = address or loopback_address()
        transport = httpx.HTTPTransport(local_address=self.address)
        self.http = httpx.Client(base_url=base_url, timeout=15, transport=transport)
        self.token: str | None = None
        self.username: str | None = None

    def register(self, username: str | None = None, password: str = PASSWORD) -> httpx.Response:
        self.username = username or unique()
        return self.http.post("/api/register", json={"username": self.username,
                                                     "email": f"{self.username}@example.com", "password": password})

    def login(self, password: str = PASSWORD) -> httpx.Response:
        answer = self.http.post("/api/login", json={"username": self.username, "password": password})
        if answer.status_code == 200:
            self.token = answer.json()["token"]
        return answer

    def signed_up(self) -> Client:
        assert self.register().status_code == 201
        assert self.login().status_code == 200
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create_post(self, **fields) -> httpx.Response:
        body = {"title": "A title", "content": "Some content", "category_name": "Notes", **fields}
        return self.http.post("/blog/api/posts", json=body, headers=self.auth)
