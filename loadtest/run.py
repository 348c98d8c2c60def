"""`make bench`: start the platform, give it data, load it with k6, print and save what it measured.

Each run is measured against references started alongside, on the same
machine in the same minutes: a bare FastAPI app serving the blog's post list
from memory, and a bare aiohttp proxy in front of it. Then the gateway and the
blog itself (lists and single posts), the read-mostly mix of a blog's day, a
mixed load arriving at a constant rate, and writes only. Each run is preceded
by an unmeasured warm-up. Everything stays on loopback; k6 shares the cores.

With --rounds N the whole sequence runs N times, interleaved, and the table
gives each figure's median over the rounds (a ratio is taken against the
references of its own round first): on a machine whose speed drifts from
minute to minute, one round can mislead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families
from table import Result, median_of_rounds, save, system_description, text_table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from footprint import proportional_mb  # noqa: E402 - it reads the process table as the tests do
from tests.conftest import PostgresDatabases  # noqa: E402 - the same helpers the tests use
from tests.platform.harness import PASSWORD, PRODUCTION_HASHING, SERVICES, Client, Platform, free_port_block, wait_until  # noqa: E402
from tests.replication import ReplicatedPostgres  # noqa: E402

K6 = Path(sys.executable).with_name("k6")
IDLE_SECONDS = 3.0  # after start-up, before the first request: the platform idle
LIST_PATH = "/blog/api/posts?limit=20"
SEEDED_POSTS = 50
WRITERS = 20


@dataclass(frozen=True)
class Run:
    name: str  # what --only selects
    title: str
    script: str
    target: str  # "app", "proxy", "gateway" or "blog"
    env: dict[str, str] = field(default_factory=dict)


def planned_runs(rate: int, write_share: float) -> list[Run]:
    return [
        Run("app", "reference: bare app, post list", "read.js", "app", {"READ": "list"}),
        Run("proxy", "reference: bare proxy, post list", "read.js", "proxy", {"READ": "list"}),
        Run("gateway-list", "gateway, post list", "read.js", "gateway", {"READ": "list"}),
        Run("gateway-post", "gateway, post detail", "read.js", "gateway", {"READ": "post"}),
        Run("blog-list", "blog direct, post list", "read.js", "blog", {"READ": "list"}),
        Run("blog-post", "blog direct, post detail", "read.js", "blog", {"READ": "post"}),
        Run("read-mostly", f"gateway, blog's day ({write_share:.0%} writes)", "read_mostly.js", "gateway",
            {"WRITE_SHARE": str(write_share)}),
        Run("mixed", f"gateway, mixed at {rate}/s", "mixed.js", "gateway", {"RATE": str(rate)}),
        Run("writes", f"gateway, writes only ({WRITERS} VUs)", "writes.js", "gateway", {"VUS": str(WRITERS)}),
        Run("comments", f"gateway, comments only ({WRITERS} VUs)", "comments.js", "gateway", {"VUS": str(WRITERS)}),
        Run("search", "gateway, search (one word)", "paths.js", "gateway",
            {"PATHS": json.dumps([f"/blog/api/search?q={word}" for word in SEARCH_WORDS_SEEDED])}),
    ]


# The reads that grow with the data, run when --posts loads some: each through the gateway, spread over
# every post or reaching past the cache's few pages ("{id}" is drawn per request by paths.js; the other
# paths come from the loaded data, `sized_paths`).
SIZED_RUNS = (
    Run("size-post", "at size: post detail, random ids", "paths.js", "gateway"),
    Run("size-page", "at size: the post's page (HTML), random ids", "paths.js", "gateway"),
    Run("size-deep-offset", "at size: deep pages by offset", "paths.js", "gateway"),
    Run("size-deep-cursor", "at size: deep pages by cursor", "paths.js", "gateway"),
    Run("size-category", "at size: the biggest category's first page", "paths.js", "gateway"),
    Run("size-author", "at size: authors' first pages", "paths.js", "gateway"),
    Run("size-search", "at size: search, one word", "paths.js", "gateway"),
)
DEEP_PAGES = 200  # distinct deep pages the offset run reads
CURSORS = 50  # of them, also read by cursor (each cursor costs a request to find)
# Words of the seeded posts' titles and bodies (seed()), and of the loaded ones (repository.load_posts).
SEARCH_WORDS_SEEDED = ("post", "body", "topic")
SEARCH_WORDS = ("cluster", "latency", "python", "replica", "canary", "database", "kubernetes", "memory")


def seconds(text: str) -> float:
    """A k6-style duration ("20s", "1m", "500ms", "5") in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    return float(match[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[match[2]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vus", type=int, default=50, help="virtual users of the steady runs (50)")
    parser.add_argument("--duration", type=seconds, default=20.0, help="measured time of each run (20s)")
    parser.add_argument("--warmup", type=seconds, default=5.0, help="unmeasured time before each run (5s; 0 for none)")
    parser.add_argument("--rate", type=int, default=1000, help="requests a second of the mixed run (1000)")
    parser.add_argument("--write-share", type=float, default=0.02, help="blog's-day requests that create a post (0.02)")
    parser.add_argument("--rounds", type=int, default=1, help="times the whole sequence runs, interleaved; medians (1)")
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help="these runs only, of: " + ", ".join(run.name for run in (*planned_runs(0, 0), *SIZED_RUNS)))
    parser.add_argument("--posts", type=int, default=0, metavar="N",
                        help="load N more posts by SQL before measuring (e.g. 100000), and add the reads at size (0)")
    parser.add_argument("--postgres", metavar="URL", help="run on this PostgreSQL server (fresh databases, dropped after)")
    parser.add_argument("--redis", metavar="URL", help="and this Redis (a key prefix of its own, removed after)")
    parser.add_argument("--read-replicas", type=int, metavar="N",
                        help="instead of --postgres, a PostgreSQL primary of the bench's own with N streaming read "
                             "replicas (tests/replication.py), the blog reading from them; 0: that primary alone, "
                             "to compare with")
    return parser.parse_args()


def selected(runs: list[Run], only: str | None, strict: bool = True) -> list[Run]:
    if not only:
        return runs
    names = set(only.split(","))
    if strict and (unknown := names - {run.name for run in (*planned_runs(0, 0), *SIZED_RUNS)}):
        raise SystemExit(f"no such run: {', '.join(sorted(unknown))}")
    return [run for run in runs if run.name in names]


def filled(runs: list[Run], paths: dict[str, list[str]], highest: int) -> list[Run]:
    """The sized runs with their paths (a run with none, such as cursors from a blog without them, is left out)."""
    return [replace(run, env={**run.env, "PATHS": json.dumps(paths[run.name]), "POST_ID_MAX": str(highest)})
            for run in runs if paths.get(run.name)]


def load_at_size(database_url: str, count: int) -> int:
    """`count` posts written straight into the blog's database (repository.load_posts); the highest post id."""
    from sqlalchemy import func, select

    from titanium.core.database import create_engine
    from titanium.services.blog.repository import load_posts
    from titanium.services.blog.tables import posts

    async def load() -> int:
        engine = create_engine(database_url, 2)
        try:
            await load_posts(engine, count, newest=datetime.now(UTC) - timedelta(days=1))
            async with engine.connect() as conn:
                return int(await conn.scalar(select(func.max(posts.c.id))))
        finally:
            await engine.dispose()

    started = time.monotonic()
    highest = asyncio.run(load())
    print(f"  loaded {count} posts by SQL in {time.monotonic() - started:.0f} s", flush=True)
    return highest


def sized_paths(platform: Platform, highest: int) -> dict[str, list[str]]:
    """The sized runs' paths by run name, read from the platform once the posts are loaded.

    Deep pages are drawn at random depths in the oldest tenth of the posts. Each is read from the database
    the first time it is asked for, then cached as any public list is (cursor pages too, since they are
    what readers following "next" ask for): the runs measure a deep page as readers meet it.
    """
    def get(path: str) -> httpx.Response:
        return httpx.get(platform.url + path, timeout=30).raise_for_status()

    rng = random.Random(19)  # noqa: S311 - which pages to read, not a secret
    depths = [rng.randrange(highest * 9 // 10, max(highest * 9 // 10 + 1, highest - 20)) for _ in range(DEEP_PAGES)]
    cursors = [cursor for depth in depths[:CURSORS]
               if (cursor := get(f"/blog/api/posts?offset={depth}&limit=20").headers.get("x-next-cursor"))]
    biggest = max(get("/blog/api/categories").json(), key=lambda category: category["post_count"])["slug"]
    return {
        "size-post": ["/blog/api/posts/{id}"],
        "size-page": ["/blog/posts/{id}"],
        "size-deep-offset": [f"/blog/api/posts?offset={depth}&limit=20" for depth in depths],
        "size-deep-cursor": [f"/blog/api/posts?cursor={cursor}&limit=20" for cursor in cursors],
        "size-category": [f"/blog/api/posts?category={quote(biggest)}&limit=20"],
        "size-author": [f"/blog/api/posts?author=writer{number:03d}&limit=20" for number in range(50)],
        "size-search": [f"/blog/api/search?q={word}" for word in SEARCH_WORDS],
    }


def seed(platform: Platform, posts: int) -> tuple[Client, list[int]]:
    author = Client(platform.url).signed_up()
    ids = [author.create_post(title=f"Post {i}", content=f"Body {i}\n" * 20, category_name=f"Topic {i % 5}").json()["id"]
           for i in range(posts)]
    return author, ids


@contextmanager
def serving(module: str, env: dict[str, str]) -> Iterator[str]:
    """loadtest/<module>.py's app under uvicorn, one process on a free loopback port; its URL while it runs."""
    port = free_port_block(size=1)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(process, url + LIST_PATH), timeout=30, what=f"{module} answering")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(process: subprocess.Popen[bytes], url: str) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"{url}: the server exited with {process.returncode}")
    return httpx.get(url).status_code == 200


def k6(script: str, env: dict[str, str], summary: Path) -> dict:
    """The metrics of one k6 run (its printed summary is dropped: the table says it shorter)."""
    # No REST API (--address ""): another k6 on this machine may hold its port.
    done = subprocess.run([str(K6), "run", "--quiet", "--address", "", "--summary-export", str(summary), str(HERE / script)],
                          env={**os.environ, **env}, stdout=subprocess.DEVNULL, check=False)
    if not summary.exists():
        raise RuntimeError(f"k6 {script} failed with {done.returncode}")
    return json.loads(summary.read_text())["metrics"]


def measure(run: Run, env: dict[str, str], args: argparse.Namespace, scratch: Path) -> Result:
    print(f"  {run.title} ...", flush=True)
    env = {**env, **run.env}
    if args.warmup:
        k6(run.script, {**env, "DURATION": f"{args.warmup}s"}, scratch / f"{run.name}-warmup.json")
    metrics = k6(run.script, {**env, "DURATION": f"{args.duration}s"}, scratch / f"{run.name}.json")
    return Result.from_k6(run.name, run.title, run.target, metrics, args.duration)


def measure_watching(platform: Platform, run: Run, env: dict[str, str], args: argparse.Namespace, scratch: Path) -> Result:
    """The run measured, with the services that restarted meanwhile (their outage is in the figures)."""
    before = service_pids(platform)
    result = measure(run, env, args, scratch)
    result.restarted = [name for name, pid in service_pids(platform).items() if pid is None or pid != before[name]]
    return result


def service_pids(platform: Platform) -> dict[str, int | None]:
    """Each service's first process id, from the process table (a service's /status need not show it)."""
    return {name: platform.pid_of(name) for name in SERVICES}


def bench(runs: list[Run], args: argparse.Namespace, env: dict[str, str], scratch: Path) -> tuple[list[Result], dict]:
    """The runs' results, and what the platform was besides: how soon it was ready, its memory idle, and the
    posts it held at the end."""
    started = time.monotonic()
    platform = Platform(scratch, env).start()
    ready_seconds = round(time.monotonic() - started, 2)  # from `titanium up` to its "press Ctrl-C to stop"
    try:
        time.sleep(IDLE_SECONDS)
        assert platform.process is not None
        idle = proportional_mb(platform.process.pid)
        print(f"  ready in {ready_seconds:.2f} s; idle: {idle['total']:.0f} MB PSS", flush=True)
        author, ids = seed(platform, SEEDED_POSTS)
        highest = max(ids)
        if args.posts:
            highest = load_at_size(env.get("TITANIUM_BLOG_DATABASE_URL") or f"sqlite:///{scratch / 'blog.db'}", args.posts)
            runs = [*runs, *filled(selected(list(SIZED_RUNS), args.only, strict=False),
                                   sized_paths(platform, highest), highest)]
        posts = scratch / "posts.json"
        posts.write_bytes(httpx.get(platform.url + LIST_PATH).raise_for_status().content)
        with serving("reference_app", {"REFERENCE_BODY": str(posts)}) as app_url, \
                serving("reference_proxy", {"REFERENCE_UPSTREAM": app_url}) as proxy_url:
            urls = {"app": app_url, "proxy": proxy_url, "gateway": platform.url, "blog": platform.service_url("blog")}
            common = {"VUS": str(args.vus), "POST_IDS": json.dumps(ids), "USERNAME": author.username or "", "PASSWORD": PASSWORD}
            rounds = []
            for number in range(1, args.rounds + 1):
                if args.rounds > 1:
                    print(f" round {number} of {args.rounds}", flush=True)
                rounds.append([measure_watching(platform, run, {**common, "BASE_URL": urls[run.target]}, args, scratch)
                               for run in runs])
        return median_of_rounds(rounds), {"ready_seconds": ready_seconds, "idle_pss_mb": idle,
                                          "posts_at_end": platform.stats()["blog"]["post_count"],
                                          "blog_reads": blog_reads(platform)}
    except Exception:
        print(f"the platform's output, the last of it:\n{platform.output()[-4000:]}", file=sys.stderr)
        raise
    finally:
        platform.stop()


def blog_reads(platform: Platform) -> dict[str, float]:
    """The blog's database reads by the server that answered them (the primary, or a read replica)."""
    text = httpx.get(platform.service_url("blog") + "/metrics", timeout=10).text
    return {sample.labels["target"]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == "db_reads_total" and sample.labels["service"] == "blog"}


def _remove_keys(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        client.delete(key)
    client.close()


def bench_on(replicated: ReplicatedPostgres | None, runs: list[Run], args: argparse.Namespace,
             env: dict[str, str]) -> tuple[list[Result], dict]:
    """The runs on SQLite, on --postgres, or on the bench's own primary and its read replicas; and the system."""
    server = replicated.primary.url if replicated else args.postgres
    databases = PostgresDatabases(server) if server else None
    if databases:
        env |= {"TITANIUM_USERS_DATABASE_URL": databases.new("bench"), "TITANIUM_BLOG_DATABASE_URL": databases.new("bench")}
    if replicated and replicated.replicas:
        blog_database = env["TITANIUM_BLOG_DATABASE_URL"].rsplit("/", 1)[1]
        env["TITANIUM_BLOG_DATABASE_READ_URL"] = ",".join(replica.database_url(blog_database)
                                                          for replica in replicated.replicas)
    if args.redis:
        env |= {"TITANIUM_REDIS_URL": args.redis, "TITANIUM_REDIS_PREFIX": f"titanium-bench-{os.getpid()}"}
    system = system_description(args, postgres=bool(databases), redis=bool(args.redis))
    if replicated:
        system["stack"] += f"-replicas{len(replicated.replicas)}"
        system["stack_name"] += (f" ({len(replicated.replicas)} streaming read replica(s) of a primary of the bench's own)"
                                 if replicated.replicas else " (a primary of the bench's own, no replica)")
    print(f"k6 on {system['stack_name']}:", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="titanium-bench-") as scratch:
            results, platform = bench(runs, args, env, Path(scratch))
    finally:
        if databases and not replicated:  # the bench's own primary goes whole
            databases.drop_all()
        if args.redis:
            _remove_keys(args.redis, env["TITANIUM_REDIS_PREFIX"])
    return results, system | platform


def main() -> int:
    args = parse_args()
    runs = selected(planned_runs(args.rate, args.write_share), args.only)
    # k6's virtual users all call from 127.0.0.1, and log in as the one seeded
    # author before each run: lift the limits, or they would measure 429s.
    # Passwords are hashed at the production costs (the test harness lowers them for the tests).
    env = {**PRODUCTION_HASHING, "TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": "1000/minute",
           "TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME_AND_ADDRESS": "1000/minute",
           "TITANIUM_RATE_LIMIT_PER_ADDRESS": "10000000/minute", "TITANIUM_MAX_CONNECTIONS_PER_CLIENT": "0",
           "TITANIUM_COMMENT_RATE_LIMIT_PER_USER": "10000000/minute",
           "TITANIUM_COMMENT_RATE_LIMIT_PER_ADDRESS": "10000000/minute"}
    replicated = None if args.read_replicas is None else ReplicatedPostgres(args.read_replicas).start()
    try:
        results, system = bench_on(replicated, runs, args, env)
    finally:
        if replicated:
            replicated.remove()  # its databases with it
    print(f"\n{text_table(system, results)}\nposts at the end: {system['posts_at_end']}")
    print("blog's database reads: " + ", ".join(f"{target} {count:.0f}" for target, count in system["blog_reads"].items()))
    for path in save(system, results, HERE / "results"):
        print(f"written: {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
