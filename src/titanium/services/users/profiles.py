"""The SQL of profiles: what a user shows of themselves, and who follows whom."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.core.database import insert_ignoring_conflicts
from titanium.core.timestamps import utcnow
from titanium.services.users.tables import follows, users


@dataclass(frozen=True)
class Profile:
    id: int
    username: str
    email: str
    bio: str | None
    image: str | None
    followers: int  # how many follow this user
    following: int  # how many this user follows
    followed: bool  # whether the viewer follows this user


@dataclass(frozen=True)
class Followed:
    id: int
    username: str


class FollowingOneself(Exception):
    pass


class ProfileRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def by_username(self, username: str, viewer_id: int | None = None) -> Profile | None:
        async with self.engine.connect() as conn:
            return await _profile(conn, func.lower(users.c.username) == username.lower(), viewer_id)

    async def by_id(self, user_id: int) -> Profile | None:
        """The user's own profile."""
        async with self.engine.connect() as conn:
            return await _profile(conn, users.c.id == user_id, None)

    async def update(self, user_id: int, changes: dict[str, Any]) -> Profile | None:
        """The profile with `changes` made (`bio`, `image`; None clears one); None if there is no such user."""
        async with self.engine.begin() as conn:
            if changes:
                await conn.execute(update(users).where(users.c.id == user_id).values(**changes, updated_at=utcnow()))
            return await _profile(conn, users.c.id == user_id, None)

    async def follow(self, follower_id: int, username: str) -> Profile | None:
        """The followed user's profile once the follower follows them; None if either account is gone.

        Following twice, or eight times at once, leaves one follow. Raises FollowingOneself.
        """
        try:
            async with self.engine.begin() as conn:
                followed_id = await _id_of(conn, username)
                if followed_id is None:
                    return None
                if followed_id == follower_id:
                    raise FollowingOneself
                # The primary key skips a pair that is there already; the foreign keys refuse
                # an account deleted meanwhile (IntegrityError below).
                await conn.execute(insert_ignoring_conflicts(conn.dialect.name, follows).values(
                    follower_id=follower_id, followed_id=followed_id, created_at=utcnow()))
                return await _profile(conn, users.c.id == followed_id, follower_id)
        except IntegrityError:
            return None

    async def unfollow(self, follower_id: int, username: str) -> Profile | None:
        """The user's profile once the follower no longer follows them (whether or not they did); None if no such user."""
        async with self.engine.begin() as conn:
            followed_id = await _id_of(conn, username)
            if followed_id is None:
                return None
            await conn.execute(delete(follows).where(follows.c.follower_id == follower_id,
                                                     follows.c.followed_id == followed_id))
            return await _profile(conn, users.c.id == followed_id, follower_id)

    async def following(self, user_id: int) -> list[Followed]:
        """Whom the user follows, by name."""
        statement = (select(users.c.id, users.c.username).join(follows, follows.c.followed_id == users.c.id)
                     .where(follows.c.follower_id == user_id).order_by(func.lower(users.c.username)))
        async with self.engine.connect() as conn:
            return [Followed(row.id, row.username) for row in await conn.execute(statement)]

    async def followed_among(self, user_id: int, names: list[str]) -> set[str]:
        """Which of these usernames (lower-cased) the user follows: one query for a page of authors."""
        lowered = {name.lower() for name in names}
        statement = (select(func.lower(users.c.username)).join(follows, follows.c.followed_id == users.c.id)
                     .where(follows.c.follower_id == user_id, func.lower(users.c.username).in_(lowered)))
        async with self.engine.connect() as conn:
            return set((await conn.scalars(statement)).all())


async def _id_of(conn: AsyncConnection, username: str) -> int | None:
    found: int | None = await conn.scalar(select(users.c.id).where(func.lower(users.c.username) == username.lower()))
    return found


async def _profile(conn: AsyncConnection, which: ColumnElement[bool], viewer_id: int | None) -> Profile | None:
    followers = select(func.count()).where(follows.c.followed_id == users.c.id).scalar_subquery()
    following = select(func.count()).where(follows.c.follower_id == users.c.id).scalar_subquery()
    followed = exists().where(and_(follows.c.follower_id == viewer_id, follows.c.followed_id == users.c.id))
    row = (await conn.execute(select(users.c.id, users.c.username, users.c.email, users.c.bio, users.c.image,
                                     followers.label("followers"), following.label("following"),
                                     followed.label("followed")).where(which))).one_or_none()
    if row is None:
        return None
    return Profile(id=row.id, username=row.username, email=row.email, bio=row.bio, image=row.image,
                   followers=int(row.followers), following=int(row.following),
                   followed=viewer_id is not None and bool(row.followed))
