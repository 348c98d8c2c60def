"""The `titanium` command: `up`, `serve`, `migrate`, `keygen`, `import-seed`.

Each command imports what it uses when it runs: a service process (`serve`)
then holds no migration tool, and the supervisor (`up`) no web framework or
database driver, which kept every process of the platform some 40 MB larger.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer

from titanium.core.registry import DATABASE_OWNERS, SERVICE_NAMES, check_base_port, parse_replicas, service

if TYPE_CHECKING:
    from pydantic import ValidationError
    from rich.console import Console

app = typer.Typer(help="Titanium: a cloud-native blog platform.", no_args_is_help=True, add_completion=False)


@cache
def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


# The choices of `serve` and `migrate`, from the registry.
Service = StrEnum("Service", {name: name for name in SERVICE_NAMES})  # type: ignore[misc]
DatabaseOwner = StrEnum("DatabaseOwner", {name: name for name in DATABASE_OWNERS})  # type: ignore[misc]


def _database_url(name: str) -> str:
    """The database URL of the service `name` as its settings read it (the SQLite default when unset)."""
    url: str = getattr(service(name).settings_class()(), f"{name}_database_url")
    return url


def _fail(message: str) -> typer.Exit:
    console(stderr=True).print(f"[bold red]titanium:[/] {message}")
    return typer.Exit(code=2)


def _settings_error(exc: ValidationError) -> typer.Exit:
    from titanium.server import settings_problem

    return _fail(f"invalid configuration: {settings_problem(exc)}")


@app.command()
def serve(
    service: Annotated[Service, typer.Argument(help="The service to run.")],
    host: Annotated[str | None, typer.Option(help="Address to listen on [env TITANIUM_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env TITANIUM_PORT].")] = None,
) -> None:
    """Run one service in the foreground (what a container runs)."""
    env = dict(os.environ)
    if host:
        env["TITANIUM_HOST"] = host
    if port:
        env["TITANIUM_PORT"] = str(port)
    # The one entry point, as `titanium up` starts every service: this
    # process becomes it, leaving the command-line tool's libraries behind,
    # so that a container runs (and weighs) what was measured.
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "titanium.server", str(service.value)], env)  # noqa: S606


@app.command()
def migrate(
    service: Annotated[list[DatabaseOwner] | None, typer.Argument(help="Only these services' databases.")] = None,
) -> None:
    """Apply the Alembic migrations of each database (creating a missing PostgreSQL database)."""
    from pydantic import ValidationError
    from sqlalchemy.engine import make_url

    from titanium.core import migrations

    names = [s.value for s in service] if service else list(DATABASE_OWNERS)
    for name in names:
        try:
            url = _database_url(name)
        except ValidationError as exc:
            raise _settings_error(exc) from None
        console().print(f"[bold cyan]titanium[/] migrating {name}: {make_url(url).render_as_string(hide_password=True)}")
        try:
            migrations.upgrade(name, url)
        except Exception as exc:
            raise _fail(f"migrating {name} failed: {exc}") from None


@app.command(hidden=True)
def prepare() -> None:
    """What `titanium up` does before it starts anything: check every service's settings, then migrate."""
    from pydantic import ValidationError

    from titanium.core.settings import SETTINGS_CLASSES

    for name, settings_class in SETTINGS_CLASSES.items():
        try:
            settings_class()
        except ValidationError as exc:
            console(stderr=True).print(f"[bold red]titanium:[/] the {name} service would not start:")
            raise _settings_error(exc) from None
    migrate(None)


def _database_urls_on(server_url: str) -> dict[str, str]:
    """One database a service on one PostgreSQL server: titanium_users, titanium_blog."""
    server = urlsplit(server_url)
    return {f"TITANIUM_{name.upper()}_DATABASE_URL": server._replace(path=f"/titanium_{name}").geturl()
            for name in DATABASE_OWNERS}


def _check_server_url(url: str | None, schemes: tuple[str, ...], example: str) -> None:
    """A ValueError that says what is wrong with a server's URL given on the command line."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"{url!r} is not a {schemes[0]} URL; write it as {example}")
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise ValueError(f"{url!r} has an invalid port; write it as {example}") from None


@app.command()
def up(
    postgres: Annotated[str | None, typer.Option(
        envvar="TITANIUM_POSTGRES_URL",
        help="A PostgreSQL server (postgresql://user:pass@host:5432); each service gets its own database on it.",
    )] = None,
    redis: Annotated[str | None, typer.Option(
        envvar="TITANIUM_REDIS_URL", help="A Redis server for cache and rate limits.")] = None,
    data_dir: Annotated[Path, typer.Option(
        envvar="TITANIUM_DATA_DIR", help="Where SQLite files, keys and logs go.")] = Path("data"),
    host: Annotated[str, typer.Option(help="Loopback address the services listen on.")] = "127.0.0.1",
    base_port: Annotated[int, typer.Option(help="The gateway's port; the others follow at their usual offsets.")] = 8000,
    log_to_console: Annotated[bool, typer.Option(help="Print every service's JSON log here instead of to files.")] = False,
    replicas: Annotated[str, typer.Option(
        envvar="TITANIUM_REPLICAS",
        help="Several processes of a service, e.g. blog=2,gateway=2 (each on its own port; the gateway "
             "balances across them). Needs --redis: they share rate limits and cache only through it.")] = "",
) -> None:
    """Start every service on loopback, wait until each is ready, and keep them running."""
    from titanium.supervisor import planned_processes, port_in_use, process_label

    data_dir = data_dir.resolve()
    try:
        counts = parse_replicas(replicas)
    except ValueError as exc:
        raise _fail(f"--replicas: {exc}") from None
    try:
        check_base_port(base_port, counts)
        _check_server_url(postgres, ("postgresql", "postgres"), "postgresql://user:password@host:5432")
        _check_server_url(redis, ("redis", "rediss"), "redis://host:6379/0")
    except ValueError as exc:
        raise _fail(str(exc)) from None
    shared_state = sorted(name for name, count in counts.items() if count > 1 and name != "dashboard")
    if shared_state and not redis:
        raise _fail(f"several processes of {', '.join(shared_state)} would each keep their own rate limits and cache; "
                    "give them a shared one with --redis redis://127.0.0.1:6379/0")
    planned = planned_processes(base_port, counts)
    busy = [f"{process_label(name, replica)} ({port})" for name, replica, port in planned if port_in_use(host, port)]
    if busy:
        raise _fail(f"ports already in use: {', '.join(busy)}; is Titanium already running? (--base-port moves it)")
    base_env = dict(os.environ, TITANIUM_DATA_DIR=str(data_dir))
    if redis:
        base_env["TITANIUM_REDIS_URL"] = redis
    if postgres:
        base_env.update(_database_urls_on(postgres))
    # The supervisor runs for as long as the platform does: this process
    # becomes it (same pid, same signals), leaving the command-line tool's
    # libraries behind (20 MB). It checks the settings and migrates first.
    supervisor = [sys.executable, "-m", "titanium.supervisor", "--host", host, "--base-port", str(base_port),
                  "--data-dir", str(data_dir), *(["--log-to-console"] if log_to_console else []),
                  *(["--replicas", replicas] if counts else [])]
    sys.stdout.flush()
    os.execve(sys.executable, supervisor, base_env)  # noqa: S606 - our own interpreter, arguments as a list


@app.command("import-seed")
def import_seed(
    seed: Annotated[str, typer.Argument(help="The seed's database: postgresql://user@host:5432/titanium, or its "
                                              "SQLite blog.db as sqlite:////path/blog.db.")],
    seed_users: Annotated[str | None, typer.Option(
        help="The seed's users database when it is another one (on SQLite: sqlite:////path/users.db).")] = None,
) -> None:
    """Move the seed's accounts, categories and posts into this platform's users and blog databases.

    Posts keep their ids (old links reach them), times and the seed's rendering; accounts keep their passwords.
    Running it again moves only what is not here yet. Exit status: 0 all moved, 1 some refused (listed), 2 failed.
    """
    import asyncio

    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from titanium.seed_import import import_seed as run_import
    from titanium.seed_import import read_seed, report_lines
    from titanium.services.blog.seed_posts import PostIdTaken

    try:
        users_url, blog_url = _database_url("users"), _database_url("blog")
    except ValidationError as exc:
        raise _settings_error(exc) from None
    migrate([DatabaseOwner("users"), DatabaseOwner("blog")])
    try:
        rows = asyncio.run(read_seed(seed, seed_users))
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise _fail(f"could not read the seed's database: {str(exc).splitlines()[0]}") from None
    try:
        report = asyncio.run(run_import(rows, users_url, blog_url))
    except PostIdTaken as exc:
        raise _fail(str(exc)) from None
    for line in report_lines(report):
        console().print(line, markup=False, highlight=False)
    if report.posts.made:
        console().print("[bold cyan]titanium[/] a running blog's cached lists show the moved posts within a minute")
    if not report.complete:
        raise typer.Exit(code=1)


@app.command()
def keygen(path: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM).")]) -> None:
    """Write a new Ed25519 token signing key, for TITANIUM_JWT_PRIVATE_KEY_FILE or a Secret."""
    if path.exists():
        raise _fail(f"{path} exists; refusing to overwrite a key")
    from titanium.core import tokens

    tokens.load_or_create_key_file(path)
    console().print(f"[bold cyan]titanium[/] wrote {path} (mode 600)")
