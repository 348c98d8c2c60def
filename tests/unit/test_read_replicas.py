"""How far behind a replica is, from the primary's polled WAL positions; the replica settings."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from titanium.core.read_replicas import PrimaryProgress
from titanium.core.settings import BlogSettings


def test_a_replica_that_has_replayed_all_the_primary_had_is_not_behind():
    progress = PrimaryProgress(horizon=10.0)
    progress.observe(100, now=1.0)
    progress.observe(200, now=2.0)
    assert progress.lag(200, now=5.0) == 0.0
    assert progress.lag(250, now=5.0) == 0.0  # polled after the primary: it may be ahead of what was seen


def test_the_lag_counts_from_when_the_primary_first_had_what_the_replica_lacks():
    progress = PrimaryProgress(horizon=10.0)
    progress.observe(100, now=1.0)
    progress.observe(200, now=2.0)
    progress.observe(200, now=3.0)  # no new WAL: still first seen at 2
    progress.observe(300, now=4.0)
    assert progress.lag(150, now=6.0) == 4.0
    assert progress.lag(200, now=6.0) == 2.0


def test_a_replica_behind_the_first_position_seen_is_as_far_behind_as_can_be():
    progress = PrimaryProgress(horizon=10.0)
    assert progress.lag(100, now=49.0) == math.inf  # before the primary has answered at all
    progress.observe(100, now=50.0)
    assert progress.lag(99, now=50.5) == math.inf  # how long the primary had been at 100 is unknown
    assert progress.lag(100, now=50.5) == 0.0


def test_positions_older_than_the_horizon_are_dropped_but_a_replay_older_still_is_not_taken_for_recent():
    progress = PrimaryProgress(horizon=10.0)
    progress.observe(100, now=0.0)
    for second in range(1, 60):
        progress.observe(100 + second, now=float(second))
    assert len(progress._seen) <= 12
    assert progress.lag(100, now=60.0) >= 10.0  # behind the oldest kept: at least the horizon
    assert progress.lag(158, now=60.0) == 1.0


def test_read_replicas_are_a_comma_separated_list_of_postgresql_urls():
    settings = BlogSettings(blog_database_url="postgresql://blog@primary/titanium_blog",
                            blog_database_read_url=" postgresql://blog@replica-1/titanium_blog,"
                                                   "postgresql://blog@replica-2/titanium_blog ,")
    assert settings.blog_database_read_urls == ["postgresql://blog@replica-1/titanium_blog",
                                                "postgresql://blog@replica-2/titanium_blog"]
    assert BlogSettings(blog_database_url="postgresql://blog@primary/titanium_blog").blog_database_read_urls == []


@pytest.mark.parametrize(("primary", "replicas", "message"), [
    (None, "postgresql://blog@replica/titanium_blog", "only a PostgreSQL"),
    ("postgresql://blog@primary/titanium_blog", "sqlite:///replica.db", "is not a PostgreSQL URL"),
    ("postgresql://blog@primary/titanium_blog", "mysql://blog:secret@replica/blog", "'replica/blog' is not"),
])
def test_a_read_replica_that_cannot_be_one_is_refused_saying_why(primary, replicas, message, tmp_path):
    with pytest.raises(ValidationError, match=message) as refused:
        BlogSettings(data_dir=tmp_path, blog_database_url=primary, blog_database_read_url=replicas)
    assert "secret" not in refused.value.errors()[0]["msg"]  # the message names no password
