"""Settings of every service, read from the environment (prefix ``TITANIUM_``).

Each service has its own class holding only what that service reads, so that a
deployment manifest can be checked against exactly the settings it must set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from titanium.core.registry import DEFAULT_PORTS, SERVICES, default_url


def _rate_limit(text: str) -> str:
    from limits import parse as parse_rate_limit  # only the services with rate limits load `limits`

    try:
        parse_rate_limit(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate limit; write it as '5/minute' or '100 per hour'") from None
    return text


def _public_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query \
            or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{text!r} is not a public base URL; write it as https://blog.example.com "
                         "(scheme, host and port only)")
    return f"{parts.scheme}://{parts.netloc}"


RateLimitText = Annotated[str, AfterValidator(_rate_limit)]
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _origins(value: list[str] | str) -> list[str]:
    """`https://a.example, http://127.0.0.1:5173` as a list; an origin is a scheme, a host and a port, no path."""
    origins = [origin.strip().rstrip("/") for origin in (value.split(",") if isinstance(value, str) else value)]
    for origin in filter(None, origins):
        if not _ORIGIN.match(origin):
            raise ValueError(f"{origin!r} is not a browser origin; write it as https://host or http://host:port")
    return [origin for origin in origins if origin]
T = TypeVar("T")
# An optional setting a manifest may give as an empty value, meaning "not set".
Unset = Annotated[T | None, BeforeValidator(lambda value: value or None)]


class ServiceSettings(BaseSettings):
    """What every service reads."""

    model_config = SettingsConfigDict(env_prefix="TITANIUM_", extra="ignore")

    env: Literal["development", "production"] = "development"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path = Path("data")
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # Requests answered at once; past it, an immediate 503 with Retry-After
    # (probes and scrapes are never refused). A queue would only make every
    # answer late.
    max_in_flight: int = Field(default=128, gt=0)
    # What a connection may cost (core/http_server.py): the size of a
    # request's head, and how long its head and its body may take to arrive.
    max_head_bytes: int = Field(default=32_768, ge=1024)
    head_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    # Open connections from one client address; 0 for no limit (behind a
    # proxy every connection comes from the proxy's address).
    max_connections_per_client: int = Field(default=0, ge=0)

    @property
    def is_production(self) -> bool:
        return self.env == "production"


class RedisSettings(ServiceSettings):
    """A service that may keep shared state (cache, rate limits) in Redis."""

    redis_url: str | None = None
    # Every key this platform writes starts with it, so that several
    # platforms (or test runs) can share one Redis server.
    redis_prefix: str = "titanium"


class DatabaseSettings(ServiceSettings):
    """A service that owns a database; ``database_url`` is filled per service."""

    # PostgreSQL connections each process opens at start-up and keeps:
    # replicas times this must stay under the server's max_connections.
    database_pool_size: int = Field(default=20, ge=1, le=200)

    @staticmethod
    def sqlite_url(data_dir: Path, name: str) -> str:
        return f"sqlite:///{(data_dir / f'{name}.db').resolve()}"

    def require_database(self, url: str | None, setting: str) -> None:
        if self.is_production and not url:
            raise ValueError(
                f"TITANIUM_{setting.upper()} must be set in production "
                "(a PostgreSQL URL); the SQLite default is for laptops only"
            )


class TokenAudienceSettings(BaseSettings):
    """The claims a token must carry to be accepted (auth issues, blog checks)."""

    model_config = SettingsConfigDict(env_prefix="TITANIUM_", extra="ignore")

    jwt_issuer: str = "titanium-auth"
    jwt_audience: str = "titanium"


class UsersSettings(DatabaseSettings, RedisSettings):
    port: int = DEFAULT_PORTS["users"]
    users_database_url: str | None = None
    # Password hashes computed at once, 64 MiB each (argon2id): size it to
    # the memory limit (deploy/k8s/base/patches/service-pod.yaml). Sign-ups
    # may hold all but one of them, so logins never wait behind sign-ups.
    password_hashes_at_once: int = Field(default=2, gt=0)
    # argon2id's costs for new hashes: passes and memory (KiB). The defaults
    # are the library's recommendation (RFC 9106's second choice); lower
    # them only where nothing real is guarded (the test suite does).
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=64)
    # Accounts one client address may register (attempts with a valid body,
    # counted before the password is hashed); shared through Redis when it
    # is configured, so replicas share one budget.
    registration_rate_limit_per_address: RateLimitText = "10/hour"

    @model_validator(mode="after")
    def _database(self) -> UsersSettings:
        self.require_database(self.users_database_url, "users_database_url")
        if not self.users_database_url:
            self.users_database_url = self.sqlite_url(self.data_dir, "users")
        return self


class AuthSettings(RedisSettings, TokenAudienceSettings):
    port: int = DEFAULT_PORTS["auth"]
    users_url: str = default_url("users")
    # PEM text of the Ed25519 signing key (from a Secret), or a file holding it.
    jwt_private_key: str | None = None
    jwt_private_key_file: Path | None = None
    # Keys that verify tokens and are published in the JWKS, but never sign:
    # while the signing key changes, the previous key (so that the tokens it
    # signed still verify until they expire) or the next one (published
    # before auth signs with it, so every verifier holds it first). PEM text
    # of one or more Ed25519 keys, public (or private: only the public half
    # is used), or a file holding it; empty for none (deploy/README.md, "Changing
    # the token signing key").
    jwt_verification_keys: str | None = None
    jwt_verification_keys_file: Path | None = None
    # An access token's life: short, since a revocation reaches the blog
    # within a second but an unrevoked stolen token works until it expires.
    token_ttl_seconds: int = Field(default=900, gt=0)
    # A refresh token's life from its renewal (each renewal gives a new one).
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, gt=0)
    # Login attempts (OWASP's authentication guidance): from one address;
    # for one username from one address; and failed ones for one username
    # from anywhere, a slower bound that, once spent, lets in only addresses
    # that signed in as that user before (so guesses from elsewhere cannot
    # lock the owner out of a device they use).
    login_rate_limit_per_address: RateLimitText = "20/minute"
    login_rate_limit_per_username_and_address: RateLimitText = "5/minute"
    login_rate_limit_per_username: RateLimitText = "50/hour"

    @model_validator(mode="after")
    def _signing_key(self) -> AuthSettings:
        if self.is_production and not (self.jwt_private_key or self.jwt_private_key_file):
            raise ValueError(
                "no token signing key: set TITANIUM_JWT_PRIVATE_KEY (PEM text) or "
                "TITANIUM_JWT_PRIVATE_KEY_FILE in production; "
                "`titanium keygen` writes one"
            )
        return self


class BlogSettings(DatabaseSettings, RedisSettings, TokenAudienceSettings):
    port: int = DEFAULT_PORTS["blog"]
    blog_database_url: str | None = None
    # PostgreSQL streaming replicas of that database, comma-separated: reads
    # that need not see the newest write go to one that has replayed what
    # they must see (core/read_replicas.py, docs/adr/0012-read-replicas.md).
    blog_database_read_url: str | None = None
    # A replica whose replay is further behind the primary than this is left
    # out until it catches up.
    blog_database_read_max_lag_seconds: float = Field(default=5.0, gt=0)
    auth_url: str = default_url("auth")
    jwks_cache_seconds: int = Field(default=300, gt=0)
    cache_ttl_seconds: int = Field(default=60, gt=0)
    # Uploaded images (services/blog/media_storage.py): in S3-compatible
    # object storage when a bucket is set (credentials from the standard AWS
    # variables or the pod's role, never from these settings), in this folder
    # otherwise (default: data_dir/media).
    media_dir: Unset[Path] = None
    s3_bucket: Unset[str] = None
    s3_endpoint_url: Unset[str] = None
    s3_region: Unset[str] = None
    # Image uploads a writer may make (POST /blog/api/images).
    image_upload_rate_limit: RateLimitText = "60/hour"
    # What the pages call the site and say it is about, and the language of
    # a reader whose browser asks for none the blog speaks (en or ko).
    site_name: str = Field(default="Titanium blog", min_length=1, max_length=60)
    site_description: str = Field(default="Posts from the Titanium blog: cloud-native notes, DevOps and more.",
                                  min_length=1, max_length=300)
    site_language: Literal["en", "ko"] = "en"
    # The blog's public address (scheme, host, port; no path), written into
    # feeds, the sitemap, canonical links, og:url and structured data. Never
    # taken from a request's Host or X-Forwarded-Host: a client chooses those.
    # `titanium up` sets it to its gateway's address.
    public_url: Annotated[str, AfterValidator(_public_url)] = default_url("gateway")
    # The comments service: a post's page shows its comments (or says they are unavailable), and the
    # blog's outbox tells it of deleted posts.
    comments_url: str = default_url("comments")

    @model_validator(mode="after")
    def _database(self) -> BlogSettings:
        self.require_database(self.blog_database_url, "blog_database_url")
        if not self.blog_database_url:
            self.blog_database_url = self.sqlite_url(self.data_dir, "blog")
        if self.blog_database_read_urls and not self.blog_database_url.startswith(("postgresql:", "postgres:")):
            raise ValueError("TITANIUM_BLOG_DATABASE_READ_URL names read replicas, which only a PostgreSQL "
                             "TITANIUM_BLOG_DATABASE_URL can have")
        for url in self.blog_database_read_urls:
            if not url.startswith(("postgresql:", "postgres:")):
                raise ValueError(f"TITANIUM_BLOG_DATABASE_READ_URL: {url.split('@')[-1]!r} is not a PostgreSQL URL "
                                 "(postgresql://user@host:5432/database)")
        return self

    @property
    def blog_database_read_urls(self) -> list[str]:
        """The read replicas' URLs, in the order given (none when the setting is empty)."""
        return [url.strip() for url in (self.blog_database_read_url or "").split(",") if url.strip()]


class CommentsSettings(DatabaseSettings, RedisSettings, TokenAudienceSettings):
    port: int = DEFAULT_PORTS["comments"]
    comments_database_url: str | None = None
    auth_url: str = default_url("auth")
    blog_url: str = default_url("blog")
    jwks_cache_seconds: int = Field(default=300, gt=0)
    # Comments one writer, and one client address, may post (shared through Redis when configured).
    comment_rate_limit_per_user: RateLimitText = "10/minute"
    comment_rate_limit_per_address: RateLimitText = "30/minute"

    @model_validator(mode="after")
    def _database(self) -> CommentsSettings:
        self.require_database(self.comments_database_url, "comments_database_url")
        if not self.comments_database_url:
            self.comments_database_url = self.sqlite_url(self.data_dir, "comments")
        return self


class UpstreamSettings(ServiceSettings):
    """A service that calls the others."""

    users_url: str = default_url("users")
    auth_url: str = default_url("auth")
    blog_url: str = default_url("blog")
    comments_url: str = default_url("comments")
    upstream_connect_timeout: float = Field(default=1.0, gt=0)
    upstream_read_timeout: float = Field(default=10.0, gt=0)


class GatewaySettings(UpstreamSettings, RedisSettings):
    port: int = DEFAULT_PORTS["gateway"]
    # Every public request counts against its client address; shared
    # through Redis when it is configured, so replicas share one budget.
    rate_limit_per_address: RateLimitText = "1200/minute"
    dashboard_url: str = default_url("dashboard")
    realworld_url: str = default_url("realworld")
    upstream_max_connections: int = Field(default=200, gt=0)
    # How many proxies (an ingress, a load balancer) stand in front of the
    # gateway and append to X-Forwarded-For; 0 trusts no such header.
    trusted_proxy_hops: int = Field(default=0, ge=0)
    # The public entry: one address cannot hold every connection.
    max_connections_per_client: int = Field(default=256, ge=0)
    # Browser origins (https://app.example.com) whose pages may call the cross-origin routes (the RealWorld
    # API), comma-separated; none by default.
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_origins)] = Field(default_factory=list)


class RealworldSettings(UpstreamSettings):
    port: int = DEFAULT_PORTS["realworld"]
    # RealWorld has no categories: the blog's category of the articles written through it.
    realworld_category: str = Field(default="Articles", min_length=1, max_length=50)


class DashboardSettings(UpstreamSettings):
    port: int = DEFAULT_PORTS["dashboard"]
    gateway_url: str = default_url("gateway")
    realworld_url: str = default_url("realworld")
    upstream_read_timeout: float = Field(default=2.0, gt=0)


# Each service's settings class, as the registry names it.
SETTINGS_CLASSES: dict[str, type[ServiceSettings]] = {service.name: globals()[service.settings] for service in SERVICES}
