"""Login budgets shared through Redis, as two replicas would share them."""

import uuid

from titanium.core.ratelimit import RateLimiter, parse_limit


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
