"""Comments, the posts they are on (author, count version, tombstone), and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from titanium.core.outbox import create_outbox, drop_outbox
from titanium.core.timestamps import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("author_id", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_comments_post", "comments", ["post_id", "id"])
    op.create_table(
        "posts",
        sa.Column("post_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("author_id", sa.Integer, nullable=False),
        sa.Column("count_version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    create_outbox(op)


def downgrade() -> None:
    drop_outbox(op)
    op.drop_table("posts")
    op.drop_index("ix_comments_post", "comments")
    op.drop_table("comments")
