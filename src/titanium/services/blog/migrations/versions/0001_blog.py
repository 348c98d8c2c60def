"""Categories and posts, with the default categories.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from titanium.core.timestamps import UTCDateTime, utcnow
from titanium.services.blog.content import DEFAULT_CATEGORIES, category_color, slugify

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    categories = op.create_table(
        "categories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("slug", sa.String(50), nullable=False, unique=True),
        sa.Column("color", sa.String(7), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("author_id", sa.Integer, nullable=False),
        sa.Column("category_id", sa.Integer, sa.ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_posts_created", "posts", ["created_at", "id"])
    op.create_index("ix_posts_category_created", "posts", ["category_id", "created_at"])
    # Ids come from the sequence, never written by hand: the seed wrote them
    # and its sequence lagged, so its first new categories failed.
    op.bulk_insert(categories, [
        {"name": name, "slug": slugify(name), "color": category_color(index), "created_at": utcnow()}
        for index, name in enumerate(DEFAULT_CATEGORIES)
    ])


def downgrade() -> None:
    op.drop_table("posts")
    op.drop_table("categories")
