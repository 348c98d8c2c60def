"""The users database: accounts, refresh tokens and the revocation list."""

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, func

from titanium.core.timestamps import UTCDateTime

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(32), nullable=False),
    Column("email", String(254), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,  # an id is never given again: a deleted user's tokens stay void
)
# Names and addresses are unique whatever their case: "Alice" and "alice"
# are one person to everyone reading the blog.
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)
Index("uq_users_email_lower", func.lower(users.c.email), unique=True)

# Refresh tokens, stored as their SHA-256 only; one family per login, each
# renewal adding a token to it (docs/adr/0010-revocable-tokens.md). Times
# are seconds since the epoch, compared with the tokens' own claims.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("family_id", String(32), nullable=False, index=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("spent_at", Float),  # renewed: presenting it again is a reuse
    Column("revoked_at", Float),  # its family was ended
)

# The revocation list, a log: the largest id is its version. kind is "token"
# (subject a jti), "session" (a refresh family), "user" (tokens of the user
# issued before issued_before are void) or "deleted" (every token of the
# user). expires_at: when no token the entry matches can still be valid.
revocations = Table(
    "revocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("issued_before", Float),
    Column("expires_at", Float),
    Column("created_at", Float, nullable=False),
    sqlite_autoincrement=True,  # the version never goes back, even when old entries are purged
)
