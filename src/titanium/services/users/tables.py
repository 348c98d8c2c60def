"""The users database: one table of accounts."""

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, func

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
)
# Names and addresses are unique whatever their case: "Alice" and "alice"
# are one person to everyone reading the blog.
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)
Index("uq_users_email_lower", func.lower(users.c.email), unique=True)
