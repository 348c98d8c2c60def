"""The comments database: the comments, what this service knows of each post, and the outbox.

`posts` is this service's own view of a blog post, not a copy of it: who
wrote it (asked of the blog at its first comment, it never changes), the
version of its comment count (each change of the count takes the next one,
so that the blog can keep the newest of counts that arrive out of order), and
whether the blog said it was deleted (a tombstone: a comment that raced the
deletion finds it and is refused, instead of outliving its post).
"""

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text, false

from titanium.core.outbox import outbox_table
from titanium.core.timestamps import UTCDateTime

metadata = MetaData()

BODY_LENGTH = 5000

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("post_id", Integer, nullable=False),
    Column("body", Text, nullable=False),  # Markdown, as written
    Column("html", Text, nullable=False),  # rendered and sanitised once, when written
    Column("author", String(32), nullable=False),
    Column("author_id", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # A deleted comment's id is never given to the next one (SQLite would reuse the highest).
    sqlite_autoincrement=True,
)
# A post's comments, oldest first, are one index range.
Index("ix_comments_post", comments.c.post_id, comments.c.id)

posts = Table(
    "posts",
    metadata,
    Column("post_id", Integer, primary_key=True, autoincrement=False),
    Column("author_id", Integer, nullable=False),
    Column("count_version", BigInteger, nullable=False, server_default="0"),
    Column("deleted", Boolean, nullable=False, server_default=false()),
)

outbox = outbox_table(metadata)
