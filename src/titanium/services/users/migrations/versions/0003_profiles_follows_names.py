"""Profiles, follows, the names ever given, and registration keys.

- users.bio and users.image: the profile a user sets.
- follows: who follows whom, once a pair; an account's follows go with it.
- usernames: every name ever given, lower-cased, filled here from today's
  accounts. A deleted account's name stays, so it is never given again (the
  blog would show the old posts under the new person). The names of
  accounts deleted before this migration are not in this database, and stay
  free: the author names of their posts are in the blog's database, which
  is another service's.
- users.request_key and users.request_fingerprint: the Idempotency-Key of
  the registration that made the account, as posts keep theirs (blog 0003).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import warnings

import sqlalchemy as sa
from alembic import op

from titanium.core.timestamps import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NEW_USER_COLUMNS = ("bio", "image", "request_key", "request_fingerprint")


def upgrade() -> None:
    # Plain columns and a separate index: SQLite cannot add a UNIQUE column in place.
    op.add_column("users", sa.Column("bio", sa.String(500), nullable=True))
    op.add_column("users", sa.Column("image", sa.String(2048), nullable=True))
    op.add_column("users", sa.Column("request_key", sa.String(64), nullable=True))
    op.add_column("users", sa.Column("request_fingerprint", sa.String(64), nullable=True))
    op.create_index("ux_users_request_key", "users", ["request_key"], unique=True)
    op.create_table(
        "usernames",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("given_at", UTCDateTime, nullable=False),
    )
    op.execute("INSERT INTO usernames (name, given_at) SELECT lower(username), created_at FROM users")
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("followed_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("follower_id <> followed_id", name="ck_follows_not_oneself"),
    )
    op.create_index("ix_follows_followed", "follows", ["followed_id", "follower_id"])


def downgrade() -> None:
    op.drop_table("follows")
    op.drop_table("usernames")
    op.drop_index("ux_users_request_key", table_name="users")
    if op.get_bind().dialect.name != "sqlite":
        for column in _NEW_USER_COLUMNS:
            op.drop_column("users", column)
        return
    # SQLite copies the table without the columns: it keeps its AUTOINCREMENT (0002), and loses the
    # indexes on lower(...), which SQLAlchemy cannot reflect, so they are made again.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
            for column in _NEW_USER_COLUMNS:
                batch.drop_column(column)
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
