"""`make bench`: start the platform, give it data, load it with k6, print what it measured.

Runs the mix three times: reads through the gateway, the same reads straight
at the blog service (the difference is what the gateway costs), and reads
with a share of writes through the gateway (every write invalidates the blog's
cache). Prints P50/P95/P99, throughput and error rate for each. Everything
stays on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.conftest import PostgresDatabases  # noqa: E402 - the same helpers the tests use
from tests.platform.harness import Client, Platform  # noqa: E402

K6 = Path(sys.executable).with_name("k6")


def seed(platform: Platform, posts: int) -> tuple[Client, list[int]]:
    author = Client(platform.url).signed_up()
    ids = [author.create_post(title=f"Post {i}", content=f"Body {i}\n" * 20, category_name=f"Topic {i % 5}").json()["id"]
           for i in range(posts)]
    return author, ids


def k6_run(script: Path, env: dict[str, str], summary: Path) -> dict:
    subprocess.run([str(K6), "run", "--quiet", "--summary-export", str(summary), str(script)],
                   env={**os.environ, **env}, check=False)
    return json.loads(summary.read_text())["metrics"]


def report(name: str, metrics: dict) -> str:
    duration = metrics["http_req_duration"]
    requests = metrics["http_reqs"]
    failed = metrics["http_req_failed"]
    return (f"{name:<28} p50 {duration['med']:7.2f} ms   p95 {duration['p(95)']:7.2f} ms   "
            f"p99 {duration['p(99)']:7.2f} ms   {requests['rate']:8.1f} req/s   errors {100 * failed['value']:.2f}%")


def _remove_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        client.delete(key)
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vus", default="50")
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--write-share", default="0.02", help="share of requests that create a post")
    parser.add_argument("--postgres", metavar="URL", help="run on this PostgreSQL server (fresh databases, dropped after)")
    parser.add_argument("--redis", metavar="URL", help="and this Redis (a key prefix of its own, removed after)")
    args = parser.parse_args()
    # k6's virtual users all call from 127.0.0.1: lift the per-address limits, or they would measure 429s.
    env = {"TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": "1000/minute", "TITANIUM_RATE_LIMIT_PER_ADDRESS": "10000000/minute"}
    databases = PostgresDatabases(args.postgres) if args.postgres else None
    if databases:
        env |= {"TITANIUM_USERS_DATABASE_URL": databases.new("bench"), "TITANIUM_BLOG_DATABASE_URL": databases.new("bench")}
    if args.redis:
        env |= {"TITANIUM_REDIS_URL": args.redis, "TITANIUM_REDIS_PREFIX": f"titanium-bench-{os.getpid()}"}
    with tempfile.TemporaryDirectory(prefix="titanium-bench-") as scratch:
        platform = Platform(Path(scratch), env).start()
        try:
            author, ids = seed(platform, 50)
            common = {"VUS": args.vus, "DURATION": args.duration, "POST_IDS": json.dumps(ids),
                      "USERNAME": author.username or "", "PASSWORD": "correct horse battery"}
            runs = [
                ("gateway, reads only", platform.url, "0"),
                ("blog direct, reads only", platform.service_url("blog"), "0"),
                (f"gateway, {float(args.write_share):.0%} writes", platform.url, args.write_share),
            ]
            results = [(name, k6_run(HERE / "read_mostly.js", {**common, "BASE_URL": url, "WRITE_SHARE": share},
                                     Path(scratch) / f"run{index}.json"))
                       for index, (name, url, share) in enumerate(runs)]
            stats = httpx.get(f"{platform.url}/stats").json()
        finally:
            platform.stop()
            if databases:
                databases.drop_all()
            if args.redis:
                _remove_keys(args.redis, env["TITANIUM_REDIS_PREFIX"])
    stack = f"PostgreSQL{' and Redis' if args.redis else ''}" if databases else "SQLite and the in-process cache"
    print(f"\nk6: {args.vus} virtual users for {args.duration} each, on {stack}, all on this machine (k6 shares its cores)")
    for name, metrics in results:
        print(report(name, metrics))
    print(f"posts at the end: {stats['blog']['post_count']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
