"""The `titanium` command as an operator meets it: clear refusals, no stack traces."""

import os
import socket
import subprocess
import sys

import httpx

from tests.conftest import BlockingConnection
from tests.platform.harness import ServiceProcess, free_port_block, wait_until
from titanium.core.database import advisory_key
from titanium.core.migrations import MIGRATION_LOCK
from titanium.core.registry import HIGHEST_PORT, SERVICES


def titanium(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "titanium", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False)


def test_production_without_a_signing_key_refuses_to_start_and_says_why():
    result = titanium("serve", "auth", env={"TITANIUM_ENV": "production"})
    assert result.returncode == 2
    assert "TITANIUM_JWT_PRIVATE_KEY" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_production_without_a_database_refuses_to_start():
    result = titanium("serve", "blog", env={"TITANIUM_ENV": "production"})
    assert result.returncode == 2 and "TITANIUM_BLOG_DATABASE_URL" in result.stderr


def test_production_starts_with_a_key_from_a_file(tmp_path, postgres_databases):
    key = tmp_path / "jwt.pem"
    assert titanium("keygen", str(key)).returncode == 0
    assert key.stat().st_mode & 0o777 == 0o600
    assert titanium("keygen", str(key)).returncode == 2, "an existing key is never overwritten"
    env = {**os.environ, "TITANIUM_ENV": "production", "TITANIUM_JWT_PRIVATE_KEY_FILE": str(key)}
    server = ServiceProcess("auth", env, tmp_path / "auth.log")
    try:
        assert httpx.get(f"{server.url}/auth/jwks").json()["keys"][0]["crv"] == "Ed25519"
    finally:
        server.stop()


def test_migrate_creates_the_databases_and_can_run_again(postgres_databases):
    users, blog = postgres_databases.new("cli_users"), postgres_databases.new("cli_blog")
    env = {"TITANIUM_USERS_DATABASE_URL": users, "TITANIUM_BLOG_DATABASE_URL": blog}
    for _ in range(2):
        result = titanium("migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert "migrating users" in result.stdout and "migrating blog" in result.stdout


def test_migrate_reports_an_unreachable_database_without_a_trace():
    result = titanium("migrate", "blog", env={"TITANIUM_BLOG_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"})
    assert result.returncode == 2 and "migrating blog failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_refuses_a_configuration_a_service_would_refuse_before_starting_any(tmp_path):
    base = free_port_block()
    result = titanium("up", "--base-port", str(base), "--data-dir", str(tmp_path),
                      env={"TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME": "often"})
    assert result.returncode == 2
    assert "the auth service would not start" in result.stderr and "'often' is not a rate limit" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_refuses_ports_already_taken(tmp_path):
    base = free_port_block()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 5))
        squatter.listen()
        result = titanium("up", "--base-port", str(base), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"blog ({base + 5})" in result.stderr



def test_migrations_take_turns_on_postgresql(postgres_databases):
    # Two pods' init containers migrating one new database at once must not
    # both create its tables: a migration waits for the one holding the lock.
    url = postgres_databases.new("turns")
    holder = BlockingConnection(url)
    holder.execute(f"SELECT pg_advisory_lock({advisory_key(MIGRATION_LOCK)})")
    waiting = subprocess.Popen([sys.executable, "-m", "titanium", "migrate", "blog"],
                               env={**os.environ, "TITANIUM_BLOG_DATABASE_URL": url},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: holder.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0] == 1,
            what="the migration to wait for the lock")
        assert waiting.poll() is None
        assert holder.execute("SELECT to_regclass('categories')")[0][0] is None, "nothing done while waiting"
    finally:
        holder.execute(f"SELECT pg_advisory_unlock({advisory_key(MIGRATION_LOCK)})")
    assert waiting.wait(timeout=60) == 0, waiting.stderr.read()
    assert holder.execute("SELECT count(*) FROM categories")[0][0] == 3
    holder.close()


HIGHEST_OFFSET = max(entry.port_offset for entry in SERVICES)


def test_up_refuses_server_urls_and_ports_it_cannot_use_in_one_line(tmp_path):
    base = str(free_port_block())
    for args, said in ((("--postgres", "notaurl"), "'notaurl' is not a postgresql URL"),
                       (("--redis", "http://127.0.0.1:6379"), "is not a redis URL"),
                       (("--postgres", "postgresql://db:99999999/x"), "has an invalid port"),
                       (("--base-port", "70000"), f"give a base port from 1024 to {HIGHEST_PORT - HIGHEST_OFFSET}")):
        result = titanium("up", "--data-dir", str(tmp_path), *(("--base-port", base) if "--base-port" not in args else ()),
                          *args)
        assert result.returncode == 2, (args, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr + result.stdout
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_migrate_offers_only_the_services_that_own_a_database():
    result = titanium("migrate", "gateway")
    said = " ".join(result.stderr.replace("│", " ").split())  # as one line, without the box it is drawn in
    assert result.returncode == 2 and "'gateway' is not one of 'users', 'blog'" in said
    assert "Traceback" not in result.stderr


def test_up_says_which_service_is_degraded_and_why_when_redis_does_not_answer(tmp_path):
    base = free_port_block()
    said = tmp_path / "said"
    with open(said, "w") as output:
        platform = subprocess.Popen([sys.executable, "-m", "titanium", "up", "--base-port", str(base), "--data-dir",
                                     str(tmp_path), "--redis", "redis://127.0.0.1:1/0"],
                                    stdout=output, stderr=subprocess.STDOUT)
    try:
        # Every service that reads Redis says so once every service is ready, the gateway among them.
        expected = ["blog is degraded: its cache check fails (is the Redis given with --redis running?)",
                    "gateway is degraded: its rate_limit_store check fails",
                    "auth is degraded: its rate_limit_store check fails",
                    "users is degraded: its rate_limit_store check fails"]
        wait_until(lambda: all(line in said.read_text() for line in expected), timeout=120,
                   what="each degraded service named")
        assert "Titanium is up" in said.read_text()
    finally:
        platform.terminate()
        platform.wait(timeout=30)
