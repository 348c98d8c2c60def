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
