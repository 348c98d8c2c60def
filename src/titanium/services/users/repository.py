"""The only code that speaks SQL to the users database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from titanium.core.timestamps import utcnow
from titanium.services.users.sessions import void_user_tokens
from titanium.services.users.tables import users


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    password_hash: str
    created_at: datetime


class AccountTaken(Exception):
    """The username or the email address belongs to somebody already."""


class UserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, username: str, email: str, password_hash: str) -> User:
        now = utcnow()
        statement = (
            insert(users)
            .values(username=username, email=email, password_hash=password_hash, created_at=now, updated_at=now)
            .returning(*users.c)
        )
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(statement)).one()
        except IntegrityError as exc:
            # The unique indexes decide, not a prior look-up: two registrations
            # of one name at the same moment cannot both pass.
            raise AccountTaken from exc
        return _user(row)

    async def by_username(self, username: str) -> User | None:
        statement = select(users).where(func.lower(users.c.username) == username.lower())
        async with self.engine.connect() as conn:
            row = (await conn.execute(statement)).one_or_none()
        return _user(row) if row else None

    async def replace_password_hash(self, user_id: int, password_hash: str) -> None:
        statement = update(users).where(users.c.id == user_id).values(password_hash=password_hash, updated_at=utcnow())
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def by_id(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).one_or_none()
        return _user(row) if row else None

    async def change_password(self, user_id: int, password_hash: str, revoke_until: float) -> None:
        """The new password, and every token of the user issued until now void: in one transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(update(users).where(users.c.id == user_id)
                               .values(password_hash=password_hash, updated_at=utcnow()))
            await void_user_tokens(conn, user_id, revoke_until, deleted=False)

    async def delete(self, user_id: int, revoke_until: float) -> bool:
        """The account gone and its tokens void; False if there was no such account."""
        async with self.engine.begin() as conn:
            gone = await conn.execute(delete(users).where(users.c.id == user_id))
            if gone.rowcount != 1:
                return False
            await void_user_tokens(conn, user_id, revoke_until, deleted=True)
        return True

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(users)) or 0)


def _user(row: object) -> User:
    mapping = row._mapping  # type: ignore[attr-defined]
    return User(
        id=mapping["id"],
        username=mapping["username"],
        email=mapping["email"],
        password_hash=mapping["password_hash"],
        created_at=mapping["created_at"],
    )
