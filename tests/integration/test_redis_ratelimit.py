"""Login and gateway budgets shared through Redis, as two replicas would share them."""

import asyncio
import uuid

from titanium.core.ratelimit import BatchedFixedWindow, RateLimiter, parse_limit


async def test_two_replicas_share_one_budget(redis_server, redis_prefix):
    first, second = RateLimiter(redis_server, redis_prefix), RateLimiter(redis_server, redis_prefix)
    limit = parse_limit("5/minute")
    who = f"user-{uuid.uuid4().hex}"
    decisions = [await (first if i % 2 else second).hit(limit, "login", who) for i in range(5)]
    assert all(d.allowed for d in decisions)
    refused = await first.hit(limit, "login", who)
    assert not refused.allowed
    assert 1 <= refused.retry_after <= 60
    assert (await second.hit(limit, "login", f"user-{uuid.uuid4().hex}")).allowed
    assert await first.shared_store_ok()


async def test_without_redis_each_process_still_limits():
    limiter = RateLimiter("redis://127.0.0.1:1/0", "titanium-test")
    limit = parse_limit("3/minute")
    decisions = [await limiter.hit(limit, "login", "someone") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert not await limiter.shared_store_ok()


async def test_in_memory_limits_without_redis_configured():
    limiter = RateLimiter(None, "titanium-test")
    limit = parse_limit("2/minute")
    assert [(await limiter.hit(limit, "x", "y")).allowed for _ in range(3)] == [True, True, False]
    assert await limiter.shared_store_ok()


async def test_gateway_budgets_reach_the_other_replicas_within_a_flush(redis_server, redis_prefix):
    first = RateLimiter(redis_server, redis_prefix, exact=False)
    second = RateLimiter(redis_server, redis_prefix, exact=False)
    limit = parse_limit("10/day")  # a window whose edge this test will not meet
    who = f"client-{uuid.uuid4().hex}"
    assert all([(await first.hit(limit, "gateway", who)).allowed for _ in range(8)])
    await first.flushed()  # the first's hits reach Redis (within a flush; waited for, not slept on)
    assert (await second.hit(limit, "gateway", who)).allowed
    await second.flushed()  # the second adds its hit and learns the total
    decisions = [await second.hit(limit, "gateway", who) for _ in range(2)]
    assert [d.allowed for d in decisions] == [True, False]
    assert decisions[-1].retry_after >= 1
    assert (await second.hit(limit, "gateway", f"client-{uuid.uuid4().hex}")).allowed, "another client has its own"


async def test_without_redis_the_gateway_budget_is_kept_in_each_process():
    limiter = RateLimiter("redis://127.0.0.1:1/0", "titanium-test", exact=False)
    limit = parse_limit("3/day")
    decisions = [await limiter.hit(limit, "gateway", "someone") for _ in range(4)]
    await asyncio.sleep(3 * BatchedFixedWindow.FLUSH_SECONDS)  # the flush fails: still counted here
    decisions.append(await limiter.hit(limit, "gateway", "someone"))
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert not await limiter.shared_store_ok()
