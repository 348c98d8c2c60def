"""The processes of one service, taken in turn, the ones that are down left out: the one replica policy.

`titanium up --replicas blog=2` runs several processes of a service, each on
its own port (in Kubernetes a Service is one address and Istio does this).
Every caller of a service with several processes (the gateway forwarding,
a service calling another) chooses among them here, by the same rules:

- each request goes to the next process in turn; those out of service last
  (still tried when every one is out: a refused connection costs less than
  an error made up here);
- a process that refuses a connection, does not answer in time, or fails
  its readiness probe is taken out of service at once, and comes back as
  soon as its probe answers 200 again;
- with more than one process, every one is probed in the background, so a
  process that stops answering (frozen, overloaded) leaves the rotation
  within a probe or two, not after a reader's time-out.

What may be sent again, and to which process, is `may_send_again`: the one
rule for both clients (httpx between services, aiohttp in the gateway).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections.abc import Callable, Coroutine
from typing import Any

from titanium.core.logging import get_logger
from titanium.core.paths import READY_PATH

log = get_logger(__name__)

# Between probes of a process out of service, and of every process when there are several.
PROBE_INTERVAL_SECONDS = 0.5
# A probe that takes longer fails: a process this slow to say it is ready should not get requests.
PROBE_TIMEOUT_SECONDS = 1.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Asks `url` whether it is ready: True on a 200 within PROBE_TIMEOUT_SECONDS.
ReadyCheck = Callable[[str], Coroutine[Any, Any, bool]]


class Failure(enum.Enum):
    """How a call to one process failed, as far as sending it again is concerned."""

    NOT_SENT = "not sent"  # no connection was made: the process never saw the request
    BROKEN = "broken"  # the connection broke with the request in it (the process died, or closed it)
    TIMEOUT = "timeout"  # no answer in time: the process may be acting on it still


def may_send_again(failure: Failure, method: str, *, marked_safe: bool = False, keyed: bool = False) -> bool:
    """Whether a request that failed so may go to another process.

    Never sent: always. Broken: only when doing it twice changes nothing (a
    read; a call its caller marks safe, such as a credential check; a write
    with an Idempotency-Key that the service honours). Timed out: never,
    since the first may still be done.
    """
    if failure is Failure.NOT_SENT:
        return True
    if failure is Failure.BROKEN:
        return method in SAFE_METHODS or marked_safe or keyed
    return False


class Replica:
    def __init__(self, url: str) -> None:
        self.url = url  # base URL, no trailing slash
        self.in_service = True
        # Set when the process is taken out: a caller waiting on it may give up and go elsewhere.
        self.left_service = asyncio.Event()


class ReplicaSet:
    """One service's processes, for a caller to choose from."""

    def __init__(self, service: str, urls: list[str], is_ready: ReadyCheck) -> None:
        if not urls:
            raise ValueError(f"the {service} service has no address")
        self.service = service
        self.replicas = [Replica(url) for url in urls]
        self._turn = itertools.cycle(range(len(self.replicas)))
        self._is_ready = is_ready
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def several(self) -> bool:
        return len(self.replicas) > 1

    def candidates(self) -> list[Replica]:
        """The processes to try for one request, in order: the next in turn first, those out of service last."""
        if not self.several:  # the usual case, on every request: nothing to choose
            return self.replicas
        first = next(self._turn)
        ordered = self.replicas[first:] + self.replicas[:first]
        return [replica for replica in ordered if replica.in_service] + [r for r in ordered if not r.in_service]

    def take_out(self, replica: Replica, reason: str) -> None:
        """Stop sending to `replica` until its readiness probe answers again (a lone process is kept in)."""
        if not replica.in_service or not self.several:
            return
        replica.in_service = False
        replica.left_service.set()
        log.warning("upstream process taken out of service", upstream=self.service, url=replica.url, reason=reason)
        self._spawn(self._bring_back(replica), f"bring-back-{self.service}")

    def watch(self) -> None:
        """Probe every process in the background, taking out those that fail (only with several: one is kept in anyway)."""
        if self.several:
            self._spawn(self._watch(), f"watch-{self.service}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL_SECONDS)
            serving = [replica for replica in self.replicas if replica.in_service]
            answers = await asyncio.gather(*(self._is_ready(replica.url + READY_PATH) for replica in serving))
            for replica, ready in zip(serving, answers, strict=True):
                if not ready:
                    self.take_out(replica, "readiness probe failed")

    async def _bring_back(self, replica: Replica) -> None:
        # Polling, not an event: nothing tells the caller when a process is back.
        while not await self._is_ready(replica.url + READY_PATH):  # noqa: ASYNC110
            await asyncio.sleep(PROBE_INTERVAL_SECONDS)
        replica.left_service = asyncio.Event()
        replica.in_service = True
        log.info("upstream process back in service", upstream=self.service, url=replica.url)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
