"""The users database: accounts, their profiles, who follows whom, the names ever given, refresh tokens and the
revocation list."""

from sqlalchemy import CheckConstraint, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, func

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
    # The profile: plain text, and an https URL of an image (NULL: not set).
    Column("bio", String(500)),
    Column("image", String(2048)),
    # The Idempotency-Key of the registration that made the account, when it
    # had one (core/idempotency.KeyedRequest): a retry that reaches another
    # process, or comes after a restart, finds the account it made.
    Column("request_key", String(64)),
    Column("request_fingerprint", String(64)),
    sqlite_autoincrement=True,  # an id is never given again: a deleted user's tokens stay void
)
# Names and addresses are unique whatever their case: "Alice" and "alice"
# are one person to everyone reading the blog.
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)
Index("uq_users_email_lower", func.lower(users.c.email), unique=True)
Index("ux_users_request_key", users.c.request_key, unique=True)

# Every username ever given, lower-cased. A deleted account's name stays
# here, so that nobody else is ever given it: the blog shows an author's
# posts by name (/blog/authors/{name}), and a new account of that name would
# take over the old one's page. A registration adds its name in the
# account's own transaction; the primary key refuses a name given before.
usernames = Table(
    "usernames",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("given_at", UTCDateTime, nullable=False),
)

# Who follows whom. A pair is there once (its primary key), so follows sent
# at once count once; a deleted account's follows, both ways, go with it.
follows = Table(
    "follows",
    metadata,
    Column("follower_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("followed_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("follower_id <> followed_id", name="ck_follows_not_oneself"),
)
Index("ix_follows_followed", follows.c.followed_id, follows.c.follower_id)

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
