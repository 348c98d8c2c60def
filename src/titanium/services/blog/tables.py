"""The blog database: categories, posts, tags, favourites and the outbox.

Besides these, each database has a full-text index of the posts that the
migrations make and the tables here do not show (docs/adr/0015): on SQLite an
FTS5 table `posts_search` kept by triggers on posts, on PostgreSQL a generated
column `posts.search_vector` with a GIN index. A SQLite migration that copies
the posts table (batch mode) drops its triggers: it must make them again
(migrations/versions/0004 has them).
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from titanium.core.outbox import outbox_table
from titanium.core.timestamps import UTCDateTime

metadata = MetaData()

# The full-text index (made by migration 0004): on SQLite an FTS5 table over
# posts' title and body_text, on PostgreSQL a generated tsvector column.
SEARCH_TABLE = "posts_search"
SEARCH_VECTOR = "search_vector"
SEARCH_CONFIG = "english"

DRAFT, PUBLISHED = "draft", "published"
MARKDOWN, SEED = "markdown", "seed"
DESCRIPTION_LENGTH = 300

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
    # A draft has no publication time; a published post's time may be in the
    # future (scheduled). Every public list reads `published_at <= now`,
    # which a draft's NULL never meets: the CHECK below makes that the rule.
    Column("status", String(10), nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    Column("description", String(DESCRIPTION_LENGTH), nullable=True),
    # Computed from the content when it is written (rendering.summary_text,
    # rendering.reading_minutes), so that a list never renders Markdown.
    Column("summary", Text, nullable=False, server_default=""),
    Column("reading_minutes", Integer, nullable=False, server_default="1"),
    # The content's words without markup: what search indexes and quotes.
    Column("body_text", Text, nullable=False, server_default=""),
    Column("render_mode", String(10), nullable=False, server_default=MARKDOWN),
    # The tag names in the post's order, as a JSON array: the lists show a
    # post's tags without a join (the tags themselves are in post_tags).
    Column("tag_names", Text, nullable=False, server_default="[]"),
    Column("favourites_count", Integer, nullable=False, server_default="0"),
    # Sent by the comments service as absolute counts with a version; an
    # older version never overwrites a newer one.
    Column("comment_count", Integer, nullable=False, server_default="0"),
    Column("comment_count_version", BigInteger, nullable=False, server_default="0"),
    CheckConstraint(f"status IN ('{DRAFT}', '{PUBLISHED}')", name="ck_posts_status"),
    CheckConstraint(f"(status = '{DRAFT}') = (published_at IS NULL)", name="ck_posts_draft_unpublished"),
    CheckConstraint(f"render_mode IN ('{MARKDOWN}', '{SEED}')", name="ck_posts_render_mode"),
    # SQLite would otherwise give a deleted newest post's id to the next post
    # (and its old links to a stranger's); PostgreSQL's sequence never does.
    sqlite_autoincrement=True,
)
# Every list reads newest first, `published_at DESC, id DESC`, from one of these
# (an index range, read backwards: no sort, however deep the page).
Index("ix_posts_published", posts.c.published_at, posts.c.id)
Index("ix_posts_category_published", posts.c.category_id, posts.c.published_at, posts.c.id)
Index("ix_posts_author_published", posts.c.author, posts.c.published_at, posts.c.id)
Index("ix_posts_author_id_published", posts.c.author_id, posts.c.published_at, posts.c.id)
Index("ux_posts_request_key", posts.c.request_key, unique=True)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("slug", String(50), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

post_tags = Table(
    "post_tags",
    metadata,
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    # RESTRICT: a tag is removed only once no post has it (a concurrent
    # write that just gave it to a post makes that removal fail, not vanish).
    Column("tag_id", Integer, ForeignKey("tags.id", ondelete="RESTRICT"), nullable=False),
    # The post's published_at, copied so that a tag's list is one index range
    # (kept equal by every write that changes the post's).
    Column("published_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("post_id", "tag_id"),
)
Index("ix_post_tags_tag_published", post_tags.c.tag_id, post_tags.c.published_at, post_tags.c.post_id)

favourites = Table(
    "favourites",
    metadata,
    Column("post_id", Integer, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # As in post_tags: a reader's favourites are listed from one index range.
    Column("published_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("post_id", "user_id"),
)
Index("ix_favourites_user_published", favourites.c.user_id, favourites.c.published_at, favourites.c.post_id)

outbox = outbox_table(metadata)
