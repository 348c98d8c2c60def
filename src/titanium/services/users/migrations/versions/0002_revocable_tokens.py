"""Refresh tokens and the revocation list; user ids never reused on SQLite.

Without AUTOINCREMENT, SQLite gives a new account the largest id plus one:
delete the newest account and the next one takes its id, and with it the
deleted account's place in the revocation list. PostgreSQL's sequence never
goes back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _rebuild_users_on_sqlite(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("users", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass
    # The copy loses the indexes on lower(...), which SQLAlchemy cannot reflect: made again.
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def upgrade() -> None:
    _rebuild_users_on_sqlite(autoincrement=True)
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("family_id", sa.String(32), nullable=False, index=True),
        sa.Column("user_id", sa.Integer, nullable=False, index=True),
        sa.Column("issued_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("spent_at", sa.Float),
        sa.Column("revoked_at", sa.Float),
    )
    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("issued_before", sa.Float),
        sa.Column("expires_at", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("revocations")
    op.drop_table("refresh_tokens")
    _rebuild_users_on_sqlite(autoincrement=False)
