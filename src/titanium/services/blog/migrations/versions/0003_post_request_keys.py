"""Posts remember the Idempotency-Key of the create that made them.

A blog process that dies after a create committed and before its answer was
stored in the key store left the key to lapse, and the retry made the post a
second time. The key (a digest, one writer's) and the request's fingerprint
are now written with the post, in the same transaction; the retry finds them.
Posts made before have none (NULL, which a unique index lets repeat).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Added as plain columns and a separate index: SQLite cannot add a UNIQUE column in place.
    op.add_column("posts", sa.Column("request_key", sa.String(64), nullable=True))
    op.add_column("posts", sa.Column("request_fingerprint", sa.String(64), nullable=True))
    op.create_index("ux_posts_request_key", "posts", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_posts_request_key", table_name="posts")
    # On SQLite the table is copied without the columns: keep its AUTOINCREMENT (0002).
    with op.batch_alter_table("posts", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("request_fingerprint")
        batch.drop_column("request_key")
