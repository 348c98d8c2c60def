"""Post ids never reused on SQLite (AUTOINCREMENT), and an index for the author pages.

Without AUTOINCREMENT, SQLite gives a new row the largest id in the table
plus one: delete the newest post and the next one takes its id, so links to
the old post lead to a stranger's. The posts table is rebuilt (batch mode
copies it) with AUTOINCREMENT; the copy keeps every id, and SQLite's
sequence starts above the largest. PostgreSQL's sequence never goes back,
so there only the index is added.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("posts", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
    op.create_index("ix_posts_author_created", "posts", ["author", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_posts_author_created", table_name="posts")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("posts", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
