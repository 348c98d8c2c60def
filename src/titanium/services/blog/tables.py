"""The blog database: categories and posts."""

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

from titanium.core.timestamps import UTCDateTime

metadata = MetaData()

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("slug", String(50), nullable=False, unique=True),
    # Unique: two categories never share a colour (see content.category_color).
    Column("color", String(7), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(120), nullable=False),
    Column("content", Text, nullable=False),
    Column("author", String(32), nullable=False),
    Column("author_id", Integer, nullable=False),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The Idempotency-Key of the create that made the post, when it had one
    # (core/idempotency.KeyedRequest): recorded in the create's transaction,
    # so that a retry after a crash between commit and answer finds the post.
    Column("request_key", String(64), nullable=True),
    Column("request_fingerprint", String(64), nullable=True),
    # SQLite would otherwise give a deleted newest post's id to the next post
    # (and its old links to a stranger's); PostgreSQL's sequence never does.
    sqlite_autoincrement=True,
)
Index("ix_posts_created", posts.c.created_at, posts.c.id)
Index("ix_posts_author_created", posts.c.author, posts.c.created_at)
Index("ix_posts_category_created", posts.c.category_id, posts.c.created_at)
Index("ux_posts_request_key", posts.c.request_key, unique=True)
