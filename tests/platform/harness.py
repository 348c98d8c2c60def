"""The whole platform as a person starts it: `titanium up` in a process of its own."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from titanium.core.registry import REPLICA_PORT_STEP, SERVICE_NAMES, parse_replicas
from titanium.core.registry import SERVICES as REGISTRY
from titanium.core.settings import UsersSettings
from titanium.supervisor import process_label

# The tests' one list of the services and of where each listens from the
# gateway's port, as the registry says (`titanium up --base-port` keeps these offsets).
SERVICES = SERVICE_NAMES
PORT_OFFSETS = {entry.name: entry.port_offset for entry in REGISTRY}
# Ready within this many seconds, or the platform failed to start (a loaded
# 2-core machine starting several platforms at once takes tens of seconds).
START_TIMEOUT_SECONDS = 120.0


# Away from the usual 8000s and below Linux's ephemeral ports (32768 and up): a port free when probed there
# could be taken by any outgoing connection's local end before the service binds it (seen in CI).
PORTS = range(20_000, 32_000)


def free_port_block(size: int = 6) -> int:
    """A base port with `size` free ports from it, in this process's share of PORTS.

    Each pytest-xdist worker probes ports of its own: two workers starting
    platforms at once never choose the same block, which a probe alone
    cannot prevent (nothing is bound until the services bind, seconds
    later; seen: a platform declared up on the other worker's services,
    its own failing to bind). Within one worker starts follow one another.
    """
    share = _share_of_ports()
    for _ in range(200):
        base = random.randrange(share.start, share.stop - size, 10)
        if all(_free(base + offset) for offset in range(size)):
            return base
    raise RuntimeError(f"no free block of {size} ports found in {share.start}-{share.stop - 1}")


def _share_of_ports() -> range:
    """PORTS split evenly between the xdist workers (gw0, gw1, ...); all of it outside xdist (the bench)."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count <= 1:
        return PORTS
    width = len(PORTS) // count
    start = PORTS.start + int(worker.removeprefix("gw")) * width
    return range(start, start + width)


class PortTaken(RuntimeError):
    """A server could not bind the port it was given: something else took it after it was probed free."""


def start_on_a_free_port(start: Callable[[int], None], attempts: int = 3) -> int:
    """The port on which `start(port)` started a server: a free one, and another when `start` raises PortTaken
    (a test worker bound it between the probe and the server's bind)."""
    for attempt in range(attempts):
        port = free_port_block(1)
        try:
            start(port)
            return port
        except PortTaken:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Every platform hashes passwords with argon2id at 1 pass over 1 MiB (about
# 1 ms) unless its test says otherwise: at the production costs (3 passes
# over 64 MiB, 170 ms of CPU) the suite's ~2,400 sign-ups and sign-ins were
# seven of its eighteen CPU-minutes. The tests of hashing itself (memory,
# floods) take PRODUCTION_HASHING.
CHEAP_HASHING = {"TITANIUM_PASSWORD_HASH_TIME_COST": "1", "TITANIUM_PASSWORD_HASH_MEMORY_KIB": "1024"}
PRODUCTION_HASHING = {f"TITANIUM_{name.upper()}": str(UsersSettings.model_fields[name].default)
                      for name in ("password_hash_time_cost", "password_hash_memory_kib")}


class Platform:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, **CHEAP_HASHING, **(env or {})}
        self.base_port = free_port_block(_ports_used(self.env.get("TITANIUM_REPLICAS", "")))
        self.output_path = data_dir / "supervisor.out"
        self.process: subprocess.Popen[bytes] | None = None
        self._interrupted = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.base_port}"

    def service_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.base_port + PORT_OFFSETS[name]}"

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> Platform:
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
            time.sleep(0.05)  # the start-up time the bench reports is read off this
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
        label = process_label(service, replica)
        return next((pid for pid in process_tree(self.process.pid) if process_name(pid) == label), None)

    @contextlib.contextmanager
    def restarts_held(self) -> Iterator[None]:
        """The supervisor frozen (SIGSTOP) for the block: a service that dies in it stays dead until the block
        ends, when the supervisor starts it again. A forked service is back within a second or so, sooner than
        a test can be sure to look at its absence."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def interrupt(self) -> None:
        """Ctrl-C, once: the supervisor stops every service in order (`stop` then waits for it)."""
        if self.process is not None and self.process.poll() is None and not self._interrupted:
            self.process.send_signal(signal.SIGINT)
            self._interrupted = True

    def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.interrupt()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def process_tree(root: int) -> list[int]:
    """The live processes from `root` down (a platform's: its supervisor, the fork server, the services), from /proc."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        if not alive(pid):
            continue
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, IndexError):
            continue  # gone meanwhile
        found.append(pid)
    return found


def alive(pid: int) -> bool:
    """Whether the process runs: not gone, and not dead awaiting its parent (a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # gone (reading a reaped process's stat can also fail with ESRCH)
        return False


def process_name(pid: int) -> str:
    """The name a process gave itself (a service's process: its label, blog or blog-2); "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _ports_used(replicas: str) -> int:
    """How many ports from the base a platform with these replicas takes (each further process: 10 more)."""
    processes = max(parse_replicas(replicas).values(), default=1)
    return REPLICA_PORT_STEP * (processes - 1) + max(PORT_OFFSETS.values()) + 1


@dataclass(frozen=True)
class Needs:
    """What a test needs of a platform. Equal needs share one platform (`Platforms.shared`)."""

    postgres: bool = False  # the users' and blog's databases on the test PostgreSQL, else SQLite files
    redis: bool = False  # the test Redis under a key prefix of the platform's own, else each process's memory
    replicas: str = ""  # as TITANIUM_REPLICAS: "blog=2,auth=2"
    env: tuple[tuple[str, str], ...] = ()  # any other setting, sorted

    @classmethod
    def of(cls, *, postgres: bool = False, redis: bool = False, replicas: str = "",
           env: dict[str, str] | None = None) -> Needs:
        return cls(postgres, redis, replicas, tuple(sorted((env or {}).items())))

    @property
    def name(self) -> str:
        return "-".join(["platform", "postgres" if self.postgres else "sqlite", *(["redis"] if self.redis else [])])


# A platform on PostgreSQL opens this many connections a database (users,
# blog) at start-up, instead of 20: the server allows 100 in all, for every
# test worker and every helper on the machine.
POOL_SIZE = "4"


class Platforms:
    """Starts platforms by what tests need, and stops and cleans them: databases dropped, Redis keys removed.

    `shared(...)` gives the one platform of those needs for the whole session
    (for tests that leave it as they found it); `start(...)` a new one, which
    its caller stops with `stop` (tests/conftest.py's `own_platform` does).
    `servers` (tests/conftest.py `TestServers`) makes the databases on the
    test PostgreSQL and names the test Redis and the run's key prefix.
    """

    def __init__(self, make_dir: Callable[[str], Path], servers: Any) -> None:
        self._make_dir = make_dir
        self._servers = servers
        self._shared: dict[Needs, Platform] = {}
        self._cleanups: dict[int, Callable[[], None]] = {}
        self._started = 0

    def shared(self, **needs: Any) -> Platform:
        wanted = Needs.of(**needs)
        if wanted not in self._shared:
            self._shared[wanted] = self.start(**needs)
        return self._shared[wanted]

    def start(self, **needs: Any) -> Platform:
        wanted = Needs.of(**needs)
        env, cleanup = self._backing(wanted)
        for attempt in range(3):
            platform = Platform(self._make_dir(wanted.name), env)
            try:
                platform.start()
                break
            except RuntimeError as exc:
                # Another test worker took one of the ports between our probe and `titanium up`'s.
                if "ports already in use" not in str(exc) or attempt == 2:
                    cleanup()
                    raise
        self._cleanups[id(platform)] = cleanup
        return platform

    def _backing(self, needs: Needs) -> tuple[dict[str, str], Callable[[], None]]:
        """The platform's settings, and what removes its databases and keys afterwards."""
        self._started += 1
        env = {**dict(needs.env), **({"TITANIUM_REPLICAS": needs.replicas} if needs.replicas else {})}
        databases: list[str] = []
        prefix = ""
        if needs.postgres:
            databases = [self._servers.databases().new(name) for name in ("users", "blog", "comments")]
            env |= {"TITANIUM_USERS_DATABASE_URL": databases[0], "TITANIUM_BLOG_DATABASE_URL": databases[1],
                    "TITANIUM_COMMENTS_DATABASE_URL": databases[2], "TITANIUM_DATABASE_POOL_SIZE": POOL_SIZE}
        if needs.redis:
            # The test Redis, unless the test puts a Redis of its own (or a proxy to this one) in its env.
            prefix = f"{self._servers.redis_prefix}-{self._started}"
            env = {"TITANIUM_REDIS_URL": self._servers.redis_url(), **env, "TITANIUM_REDIS_PREFIX": prefix}

        def cleanup() -> None:
            if databases:
                self._servers.databases().drop(databases)
            if prefix:
                remove_keys(self._servers.redis_url(), prefix)

        return env, cleanup

    def stop(self, platform: Platform) -> None:
        """Stop it (every service answered Ctrl-C in time: exit 0), then remove its databases and keys."""
        code = platform.stop()
        self._cleanups.pop(id(platform), lambda: None)()
        assert code == 0, platform.output()

    def stop_each(self, platforms: list[Platform]) -> None:
        """Stop and clean every one, even after one failed to stop; then fail for those that did."""
        for platform in platforms:  # all at once: each takes seconds to stop its services in order
            platform.interrupt()
        failures = []
        for platform in platforms:
            try:
                self.stop(platform)
            except AssertionError as exc:
                failures.append(str(exc))
        assert not failures, "\n".join(failures)

    def stop_shared(self) -> None:
        shared, self._shared = list(self._shared.values()), {}
        self.stop_each(shared)


def remove_keys(redis_url: str, prefix: str) -> None:
    """Delete every Redis key under `prefix`."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


class ServiceProcess:
    """One more process of a service (as a second pod would be): `titanium serve SERVICE` on a port of its own."""

    def __init__(self, service: str, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port_block(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "titanium", "serve", service, "--port", str(self.port)],
                                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self._ready, timeout=60, what=f"{service} on port {self.port} ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"exited with {self.process.returncode}:\n{self.log_path.read_text(errors='replace')}")
        return httpx.get(f"{self.url}/health/ready").status_code == 200

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)

    def kill(self) -> None:
        """As a process that dies: no time to say goodbye."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)


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


def until_not_busy(send: Callable[[], Any], attempts: int = 3) -> Any:
    """`send()`'s answer, sent again a second later (as Retry-After asks) while it is a 503 or a 504, or none."""
    for _ in range(attempts - 1):
        answer = send()
        if answer is not None and answer.status_code not in (503, 504):
            return answer
        time.sleep(1)
    return send()


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

    def register(self, username: str | None = None, password: str = PASSWORD,
                 headers: dict[str, str] | None = None) -> httpx.Response:
        self.username = username or unique()
        return self.http.post("/api/register", json={"username": self.username,
                                                     "email": f"{self.username}@example.com", "password": password},
                              headers=headers)

    def login(self, password: str = PASSWORD) -> httpx.Response:
        answer = self.http.post("/api/login", json={"username": self.username, "password": password})
        if answer.status_code == 200:
            self.token = answer.json()["token"]
        return answer

    def signed_up(self) -> Client:
        """Registered and logged in. Setup, not the subject: a platform too busy to answer in time is asked
        again, as a careful client would (the registration with an Idempotency-Key, so it is made once)."""
        self.username, key = self.username or unique(), {"Idempotency-Key": str(uuid.uuid4())}
        registered = until_not_busy(lambda: self.register(self.username, headers=key))
        assert registered.status_code == 201, registered.text
        logged_in = until_not_busy(self.login)
        assert logged_in.status_code == 200, logged_in.text
        return self

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create_post(self, **fields) -> httpx.Response:
        body = {"title": "A title", "content": "Some content", "category_name": "Notes", **fields}
        return self.http.post("/blog/api/posts", json=body, headers=self.auth)
