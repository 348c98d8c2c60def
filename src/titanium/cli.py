"""The `titanium` command: `up`, `serve`, `migrate`, `keygen`."""

from __future__ import annotations

import importlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url

from titanium.core import migrations, tokens
from titanium.core.settings import DEFAULT_PORTS, SETTINGS_CLASSES, BlogSettings, UsersSettings
from titanium.supervisor import ServiceProcess, environment_for, log_path_for, port_in_use, run

app = typer.Typer(help="Titanium: a cloud-native blog platform.", no_args_is_help=True, add_completion=False)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class Service(StrEnum):
    gateway = "gateway"
    users = "users"
    auth = "auth"
    dashboard = "dashboard"
    blog = "blog"


# The services that own a database, and how to read its URL from their settings.
DATABASES = {
    "users": lambda: UsersSettings().users_database_url,
    "blog": lambda: BlogSettings().blog_database_url,
}


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]titanium:[/] {message}")
    return typer.Exit(code=2)


def _settings_error(exc: ValidationError) -> typer.Exit:
    reasons = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
    return _fail(f"invalid configuration: {reasons}")


@app.command()
def serve(
    service: Annotated[Service, typer.Argument(help="The service to run.")],
    host: Annotated[str | None, typer.Option(help="Address to listen on [env TITANIUM_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [env TITANIUM_PORT].")] = None,
) -> None:
    """Run one service in the foreground (what a container runs)."""
    if host:
        os.environ["TITANIUM_HOST"] = host
    if port:
        os.environ["TITANIUM_PORT"] = str(port)
    build = importlib.import_module(f"titanium.services.{service.value}.app").build
    try:
        application = build()
    except ValidationError as exc:
        raise _settings_error(exc) from None
    settings = application.state.settings
    uvicorn.run(
        application, host=settings.host, port=settings.port, loop="uvloop", http="httptools",
        log_config=None, access_log=False, proxy_headers=False, server_header=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def migrate(
    service: Annotated[list[Service] | None, typer.Argument(help="Only these services' databases.")] = None,
) -> None:
    """Apply the Alembic migrations of each database (creating a missing PostgreSQL database)."""
    names = [s.value for s in service] if service else list(DATABASES)
    for name in names:
        if name not in DATABASES:
            raise _fail(f"the {name} service owns no database")
        try:
            url = DATABASES[name]()
        except ValidationError as exc:
            raise _settings_error(exc) from None
        assert url is not None
        console.print(f"[bold cyan]titanium[/] migrating {name}: {make_url(url).render_as_string(hide_password=True)}")
        try:
            migrations.upgrade(name, url)
        except Exception as exc:
            raise _fail(f"migrating {name} failed: {exc}") from None


def _check_settings() -> None:
    """Refuse at once, with the reason, a configuration some service would refuse to start with."""
    for name, settings_class in SETTINGS_CLASSES.items():
        try:
            settings_class()
        except ValidationError as exc:
            err_console.print(f"[bold red]titanium:[/] the {name} service would not start:")
            raise _settings_error(exc) from None


def _database_urls_on(server_url: str) -> dict[str, str]:
    """One database a service on one PostgreSQL server: titanium_users, titanium_blog."""
    server = make_url(server_url)
    return {
        f"TITANIUM_{name.upper()}_DATABASE_URL": server.set(database=f"titanium_{name}").render_as_string(hide_password=False)
        for name in DATABASES
    }


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
) -> None:
    """Start every service on loopback, wait until each is ready, and keep them running."""
    data_dir = data_dir.resolve()
    ports = {name: base_port + offset - DEFAULT_PORTS["gateway"] for name, offset in DEFAULT_PORTS.items()}
    busy = [f"{name} ({port})" for name, port in ports.items() if port_in_use(host, port)]
    if busy:
        raise _fail(f"ports already in use: {', '.join(busy)}; is Titanium already running? (--base-port moves it)")
    base_env = dict(os.environ, TITANIUM_DATA_DIR=str(data_dir))
    if redis:
        base_env["TITANIUM_REDIS_URL"] = redis
    if postgres:
        base_env.update(_database_urls_on(postgres))
    os.environ.update(base_env)
    _check_settings()
    migrate(None)
    services = [
        ServiceProcess(name, ports[name], environment_for(base_env, name, host, ports),
                       None if log_to_console else log_path_for(data_dir, name))
        for name in ("users", "auth", "blog", "dashboard", "gateway")
    ]
    if not log_to_console:
        console.print(f"[bold cyan]titanium[/] logs: {data_dir / 'logs'}")
    raise typer.Exit(code=run(services, console))


@app.command()
def keygen(path: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM).")]) -> None:
    """Write a new Ed25519 token signing key, for TITANIUM_JWT_PRIVATE_KEY_FILE or a Secret."""
    if path.exists():
        raise _fail(f"{path} exists; refusing to overwrite a key")
    tokens.load_or_create_key_file(path)
    console.print(f"[bold cyan]titanium[/] wrote {path} (mode 600)")
