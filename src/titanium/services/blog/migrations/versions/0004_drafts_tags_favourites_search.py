"""Drafts and scheduling, tags, favourites, counts, full-text search, keyset indexes and the outbox.

Posts gain a status and a publication time (existing posts: published, at
their creation time), a description, a plain-text summary, reading time and
body text computed from their content (existing posts: computed here), a
render mode, their tag names, and favourite and comment counts. Lists read
`published_at DESC, id DESC` from the new indexes, which replace the three
`created_at` ones. Tags, favourites and the outbox get tables of their own.

Search: on SQLite an FTS5 table with the posts as its external content, kept
by triggers in every write's own transaction, and filled here; on PostgreSQL
a generated tsvector column ('english' configuration) with a GIN index.

Categories whose name no link can reach (".", "..", "a/../../api",
"x/feed.xml", control or invisible characters: content.checked_name) are
renamed "Category <id>" (slug "category-<id>"); their posts stay in them.
Each renaming is logged with the old name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from titanium.core.logging import get_logger
from titanium.core.outbox import create_outbox, drop_outbox
from titanium.core.timestamps import UTCDateTime
from titanium.services.blog.content import InvalidName, checked_name, slugify
from titanium.services.blog.rendering import words_of

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = get_logger(__name__)
BATCH = 500
BODY_TEXT_LIMIT = 40_000  # above any content's length (20,000): the whole text, never cut

_posts = sa.table("posts", sa.column("id", sa.Integer), sa.column("content", sa.Text), sa.column("summary", sa.Text),
                  sa.column("reading_minutes", sa.Integer), sa.column("body_text", sa.Text))
_categories = sa.table("categories", sa.column("id", sa.Integer), sa.column("name", sa.String),
                       sa.column("slug", sa.String))

_CHECKS = {
    "ck_posts_status": "status IN ('draft', 'published')",
    "ck_posts_draft_unpublished": "(status = 'draft') = (published_at IS NULL)",
    "ck_posts_render_mode": "render_mode IN ('markdown', 'seed')",
}
_OLD_INDEXES = {"ix_posts_created": ["created_at", "id"], "ix_posts_author_created": ["author", "created_at"],
                "ix_posts_category_created": ["category_id", "created_at"]}
_NEW_INDEXES = {"ix_posts_published": ["published_at", "id"],
                "ix_posts_category_published": ["category_id", "published_at", "id"],
                "ix_posts_author_published": ["author", "published_at", "id"],
                "ix_posts_author_id_published": ["author_id", "published_at", "id"]}

# SQLite: the FTS5 index reads its text from posts (external content) and is
# told of every change by these triggers, inside the write's transaction.
# 'porter unicode61': English words by their stem; other scripts (Korean)
# as whole words, which the queries match as prefixes (search_terms.py).
_SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE posts_search USING fts5(title, body_text, content='posts', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER posts_search_insert AFTER INSERT ON posts BEGIN "
    "INSERT INTO posts_search(rowid, title, body_text) VALUES (new.id, new.title, new.body_text); END",
    "CREATE TRIGGER posts_search_delete AFTER DELETE ON posts BEGIN "
    "INSERT INTO posts_search(posts_search, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text); "
    "END",
    "CREATE TRIGGER posts_search_update AFTER UPDATE OF title, body_text ON posts BEGIN "
    "INSERT INTO posts_search(posts_search, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text); "
    "INSERT INTO posts_search(rowid, title, body_text) VALUES (new.id, new.title, new.body_text); END",
    "INSERT INTO posts_search(posts_search) VALUES ('rebuild')",
]
# PostgreSQL: computed by the server in the same statement as the write.
_POSTGRES_SEARCH = [
    "ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body_text), 'B')) STORED",
    "CREATE INDEX ix_posts_search ON posts USING GIN (search_vector)",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _add_post_columns()
    op.execute("UPDATE posts SET published_at = created_at")
    _compute_text_columns()
    _rename_unreachable_categories()
    if sqlite:
        # SQLite adds constraints by copying the table; keep its AUTOINCREMENT (0002).
        with op.batch_alter_table("posts", recreate="always", table_kwargs={"sqlite_autoincrement": True}) as batch:
            batch.alter_column("status", server_default=None, existing_type=sa.String(10), existing_nullable=False)
            for name, condition in _CHECKS.items():
                batch.create_check_constraint(name, condition)
    else:
        op.alter_column("posts", "status", server_default=None)
        for name, condition in _CHECKS.items():
            op.create_check_constraint(name, "posts", condition)
    for name in _OLD_INDEXES:
        op.drop_index(name, table_name="posts")
    for name, columns in _NEW_INDEXES.items():
        op.create_index(name, "posts", columns)
    _create_tag_and_favourite_tables()
    create_outbox(op)
    for statement in _SQLITE_SEARCH if sqlite else _POSTGRES_SEARCH:
        op.execute(statement)


def _add_post_columns() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("status", sa.String(10), nullable=False, server_default="published"),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.Column("description", sa.String(300), nullable=True),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("reading_minutes", sa.Integer, nullable=False, server_default="1"),
        sa.Column("body_text", sa.Text, nullable=False, server_default=""),
        sa.Column("render_mode", sa.String(10), nullable=False, server_default="markdown"),
        sa.Column("tag_names", sa.Text, nullable=False, server_default="[]"),
        sa.Column("favourites_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("comment_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("comment_count_version", sa.BigInteger, nullable=False, server_default="0"),
    ]
    for column in columns:
        op.add_column("posts", column)


def _compute_text_columns() -> None:
    """Each existing post's summary, reading time and body text, in batches by id."""
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(_posts.c.id, _posts.c.content).where(_posts.c.id > last)
                            .order_by(_posts.c.id).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(
            _posts.update().where(_posts.c.id == sa.bindparam("post_id"))
            .values(summary=sa.bindparam("new_summary"), reading_minutes=sa.bindparam("minutes"),
                    body_text=sa.bindparam("text")),
            [{"post_id": row.id, "new_summary": words.summary, "minutes": words.reading_minutes,
              "text": words.searchable[:BODY_TEXT_LIMIT]} for row, words in ((row, words_of(row.content)) for row in rows)],
        )
        last = rows[-1].id


def _rename_unreachable_categories() -> None:
    conn = op.get_bind()
    slugs = set(conn.scalars(sa.select(_categories.c.slug)).all())
    for category in conn.execute(sa.select(_categories.c.id, _categories.c.name).order_by(_categories.c.id)).all():
        try:
            checked_name(category.name)
            continue
        except InvalidName as refused:
            reason = str(refused)
        name = f"Category {category.id}"
        suffix = 1
        while slugify(name) in slugs:
            suffix += 1
            name = f"Category {category.id}-{suffix}"
        slugs.add(slugify(name))
        conn.execute(_categories.update().where(_categories.c.id == category.id).values(name=name, slug=slugify(name)))
        log.warning("unreachable category renamed", category_id=category.id, old_name=category.name, new_name=name,
                    reason=reason)


def _create_tag_and_favourite_tables() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("slug", sa.String(50), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "post_tags",
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("post_id", "tag_id"),
    )
    op.create_index("ix_post_tags_tag_published", "post_tags", ["tag_id", "published_at", "post_id"])
    op.create_table(
        "favourites",
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("post_id", "user_id"),
    )
    op.create_index("ix_favourites_user_published", "favourites", ["user_id", "published_at", "post_id"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in ("posts_search_insert", "posts_search_delete", "posts_search_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE posts_search")
    else:
        op.execute("DROP INDEX ix_posts_search")
        op.execute("ALTER TABLE posts DROP COLUMN search_vector")
    drop_outbox(op)
    for table in ("favourites", "post_tags", "tags"):
        op.drop_table(table)
    for name in _NEW_INDEXES:
        op.drop_index(name, table_name="posts")
    for name, columns in _OLD_INDEXES.items():
        op.create_index(name, "posts", columns)
    # Drafts have no place in the old schema: they go with it.
    op.execute("DELETE FROM posts WHERE status = 'draft'")
    with op.batch_alter_table("posts", table_kwargs={"sqlite_autoincrement": True}) as batch:
        for name in _CHECKS:
            batch.drop_constraint(name, type_="check")
        for column in ("comment_count_version", "comment_count", "favourites_count", "tag_names", "render_mode",
                       "body_text", "reading_minutes", "summary", "description", "published_at", "status"):
            batch.drop_column(column)
