"""The platform's services and where each listens by default: what every part of it agrees on.

Kept apart from the settings so that the supervisor, which only starts
processes, does not load the settings' validation library.
"""

from __future__ import annotations

# The ports every service listens on unless told otherwise; `titanium up
# --base-port` keeps these offsets.
DEFAULT_PORTS: dict[str, int] = {
    "gateway": 8000,
    "users": 8001,
    "auth": 8002,
    "dashboard": 8003,
    "blog": 8005,
}
SERVICE_NAMES = tuple(DEFAULT_PORTS)


def default_url(service: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[service]}"


def ports_from(base_port: int) -> dict[str, int]:
    """Every service's port when the gateway listens on `base_port` (the others keep their offsets)."""
    return {name: base_port + port - DEFAULT_PORTS["gateway"] for name, port in DEFAULT_PORTS.items()}


def replica_urls(value: str) -> list[str]:
    """The base URLs of a service's processes: `titanium up --replicas` runs several, and
    passes their addresses as one comma-separated value (in Kubernetes a Service is one URL)."""
    return [url.strip().rstrip("/") for url in value.split(",") if url.strip()]


def replica_ports(base_port: int, replica: int) -> dict[str, int]:
    """Every service's port for its `replica`-th process (0 is the first): each further replica's
    ports are the first's moved up by 10, so the usual offsets hold (gateway 8010, blog 8015...)."""
    return ports_from(base_port + 10 * replica)


MAX_REPLICAS = 8


def parse_replicas(text: str) -> dict[str, int]:
    """`blog=2,gateway=2` as {"blog": 2, "gateway": 2}; a ValueError that says what is wrong."""
    counts: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, count = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_PORTS:
            raise ValueError(f"no service named {name!r} (services: {', '.join(SERVICE_NAMES)})")
        if not count.strip().isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise ValueError(f"{part!r}: write SERVICE=N with N from 1 to {MAX_REPLICAS}, e.g. blog=2")
        counts[name] = int(count)
    return counts
