"""The one replica policy (core/replicas.py): which process gets a request, which leave the rotation, what may be sent again."""

from __future__ import annotations

import asyncio

import pytest

from titanium.core.replicas import Failure, ReplicaSet, may_send_again


@pytest.mark.parametrize(("failure", "method", "marked_safe", "keyed", "again"), [
    (Failure.NOT_SENT, "POST", False, False, True),  # never reached a process: anything goes elsewhere
    (Failure.BROKEN, "GET", False, False, True),
    (Failure.BROKEN, "POST", False, False, False),  # may have been done
    (Failure.BROKEN, "POST", True, False, True),  # a credential check, say
    (Failure.BROKEN, "PATCH", False, True, True),  # the service answers a key once
    (Failure.TIMEOUT, "GET", False, False, False),  # the first may still be at work
    (Failure.TIMEOUT, "POST", True, True, False),
])
def test_what_may_be_sent_again(failure, method, marked_safe, keyed, again):
    assert may_send_again(failure, method, marked_safe=marked_safe, keyed=keyed) is again


class Readiness:
    """Which processes answer their readiness probe, as a service's would."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.asked: list[str] = []

    async def __call__(self, url: str) -> bool:
        self.asked.append(url)
        return not any(url.startswith(base) for base in self.down)


async def test_each_request_goes_to_the_next_process_in_turn():
    replicas = ReplicaSet("blog", ["http://a", "http://b", "http://c"], Readiness())
    firsts = [replicas.candidates()[0].url for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c"] * 2


async def test_a_process_taken_out_is_tried_last_until_its_probe_answers_again():
    readiness = Readiness()
    replicas = ReplicaSet("blog", ["http://a", "http://b"], readiness)
    a = replicas.replicas[0]
    readiness.down.add("http://a")
    replicas.take_out(a, "refused")
    assert a.left_service.is_set()
    assert [replica.url for replica in replicas.candidates()] == ["http://b", "http://a"]
    assert [replica.url for replica in replicas.candidates()] == ["http://b", "http://a"], "whoever's turn it is"
    readiness.down.clear()
    await _until(lambda: a.in_service)
    assert not a.left_service.is_set(), "back in: a new request on it may wait for it again"
    await replicas.close()


async def test_a_process_that_stops_answering_its_probe_leaves_the_rotation_without_a_request_failing():
    readiness = Readiness()
    replicas = ReplicaSet("blog", ["http://a", "http://b"], readiness)
    replicas.watch()
    readiness.down.add("http://b")
    await _until(lambda: not replicas.replicas[1].in_service)
    assert all(replicas.candidates()[0].url == "http://a" for _ in range(4))
    await replicas.close()


async def test_a_lone_process_is_never_taken_out():
    replicas = ReplicaSet("blog", ["http://a"], Readiness())
    replicas.take_out(replicas.replicas[0], "refused")
    assert replicas.replicas[0].in_service and replicas.candidates() == replicas.replicas
    await replicas.close()


async def _until(condition, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the condition is another task's state, not an event of its own
            await asyncio.sleep(0.02)
