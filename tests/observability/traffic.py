"""People using the platform through the gateway, on threads of their own, until told to stop.

Each person reads pages and the API, writes and edits posts, logs in again
now and then, and makes a few mistakes (unknown post, unknown user, a post
without a token, a wrong password, an invalid page size), so every panel
has reads, writes, logins and 4xx to show. Each calls from an address of
its own and paces itself under the gateway's per-address budget.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

import httpx

from tests.platform.harness import Client, unique, until_not_busy

PAUSE_SECONDS = 0.25  # about 4 requests a second each, under the 300/minute budget of PLATFORM_ENV
# A login hashes (argon2id, 64 MiB, slow on purpose): people log in now and
# then, not every round and not all at once, as people do. Every 8 rounds
# (about 50 s) also keeps under the login limits per user and address.
LOGIN_EVERY_ROUNDS = 8
# The latency SLOs' bounds (docs/slo.md): a read within 250 ms, a write within 1 s.
SLO_SECONDS = {"read": 0.25, "write": 1.0}
# TitaniumHighLatency's bound on each service's 95th percentile.
SLOW_SECONDS = 1.0
# The services that answer a request to a public path (the first prefix that matches), besides the gateway: a
# client waits at least as long as each of them took.
SERVICES_OF_PATH = (("/api/login", ("auth", "users")), ("/api/refresh", ("auth", "users")), ("/api/verify", ("auth",)),
                    ("/.well-known/", ("auth",)), ("/api/", ("users",)), ("/blog", ("blog",)), ("/", ("dashboard",)))


class Traffic:
    def __init__(self, base_url: str, people: int = 4) -> None:
        self.answers: Counter[str] = Counter()  # status code (or the error's name) -> how many
        # "read" or "write" -> how many answers, and how many came later than the SLO's bound, as the clients
        # timed them: every request the gateway sees from them, their sign-ups included.
        self.answered: Counter[str] = Counter()
        self.late: Counter[str] = Counter()
        # service -> how many of the clients' requests it answered a part of, and how many took over SLOW_SECONDS
        self.through: Counter[str] = Counter()
        self.slow_through: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.people = [self._signed_up(Client(base_url)) for _ in range(people)]
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._use, args=(person, turn), daemon=True)
                         for turn, person in enumerate(self.people)]

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=30)
        for person in self.people:
            person.http.close()

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.answers)

    def _use(self, person: Client, turn: int) -> None:
        stranger = unique("nobody")
        rounds = turn  # each person logs in on a round of their own
        while not self._stopping.is_set():
            for action in self._round(person, stranger, rounds % LOGIN_EVERY_ROUNDS):
                if self._stopping.is_set():
                    return
                self._count(action)
                time.sleep(PAUSE_SECONDS)
            rounds += 1

    def _round(self, person: Client, stranger: str, phase: int) -> list[Callable[[], httpx.Response]]:
        http, auth = person.http, person.auth
        post_id: dict[str, int] = {"id": 0}

        def write() -> httpx.Response:
            answer = person.create_post(title=f"Traffic {unique('post')}", content="Lines\n\nof *Markdown*.")
            post_id["id"] = answer.json().get("id", 0) if answer.status_code == 201 else 0
            return answer

        actions: list[Callable[[], httpx.Response]] = [
            write,
            lambda: http.get("/blog/api/posts", params={"limit": 5}),
            lambda: http.get(f"/blog/api/posts/{post_id['id']}"),
            lambda: http.get(f"/blog/posts/{post_id['id']}"),
            lambda: http.patch(f"/blog/api/posts/{post_id['id']}", json={"content": "Edited."}, headers=auth),
            lambda: http.get("/blog/"),
            lambda: http.get("/blog/api/categories"),
            lambda: http.get(f"/api/users/{person.username}"),
            lambda: http.get("/api/verify", headers=auth),
            lambda: http.get("/.well-known/jwks.json"),
            lambda: http.get("/stats"),
            lambda: http.get("/blog/feed.xml"),
            # The mistakes: 404, 404, 401, 422.
            lambda: http.get("/blog/api/posts/2000000000"),
            lambda: http.get(f"/api/users/{stranger}"),
            lambda: http.post("/blog/api/posts", json={"title": "t", "content": "c", "category_name": "Notes"}),
            lambda: http.get("/blog/api/posts", params={"limit": 0}),
        ]
        if phase == 0:
            actions.append(person.login)
        if phase == LOGIN_EVERY_ROUNDS // 2:  # 401
            actions.append(lambda: http.post("/api/login", json={"username": stranger, "password": "wrong"}))
        return actions

    def _signed_up(self, person: Client) -> Client:
        """As `Client.signed_up`, each request counted and timed."""
        person.username, key = unique(), {"Idempotency-Key": str(uuid.uuid4())}
        for step, status in ((lambda: person.register(person.username, headers=key), 201), (person.login, 200)):
            answer = until_not_busy(lambda step=step: self._count(step))
            assert answer is not None and answer.status_code == status, f"signing up: {answer}"
        return person

    def late_share(self, kind: str, *, give_or_take_one: bool = False) -> float:
        """The share of the clients' reads or writes answered later than their SLO's bound (0 when none was made).

        `give_or_take_one` counts one more late request when at least one was: what a ratio of the same traffic
        taken a moment earlier (fewer requests, the same late ones) may have read.
        """
        with self._lock:
            late = self.late[kind] + (give_or_take_one and self.late[kind] > 0)
            return late / self.answered[kind] if self.answered[kind] else 0.0

    def slow_share(self, service: str) -> float:
        """The share of the clients' requests through `service` that took longer than SLOW_SECONDS."""
        with self._lock:
            return self.slow_through[service] / self.through[service] if self.through[service] else 0.0

    def _count(self, action: Callable[[], httpx.Response]) -> httpx.Response | None:
        """Send and count one request; its answer (None when there was none)."""
        started = time.monotonic()
        try:
            answer = action()
        except httpx.HTTPError as error:
            with self._lock:
                self.answers[type(error).__name__] += 1
            return None
        seconds = time.monotonic() - started
        kind = "read" if answer.request.method in ("GET", "HEAD") else "write"
        path = answer.request.url.path
        services = ("gateway", *next(names for prefix, names in SERVICES_OF_PATH if path.startswith(prefix)))
        with self._lock:
            self.answers[str(answer.status_code)] += 1
            self.answered[kind] += 1
            self.late[kind] += seconds > SLO_SECONDS[kind]
            for service in services:
                self.through[service] += 1
                self.slow_through[service] += seconds > SLOW_SECONDS
        return answer
