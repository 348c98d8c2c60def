"""The only code that speaks SQL to the users database: accounts and the names ever given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from titanium.core.idempotency import KeyedRequest, KeyUsedForAnotherRequest
from titanium.core.timestamps import utcnow
from titanium.services.users.sessions import void_user_tokens
from titanium.services.users.tables import usernames, users

TAKEN = "username or email already registered"
RETIRED = "this username belonged to an account that has been deleted; it cannot be registered again"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class Created:
    user: User
    replayed: bool  # made before, by the same keyed request: this is its account


class AccountTaken(Exception):
    """The username or the email address belongs to somebody, or the name to an account deleted since."""

    def __init__(self, detail: str = TAKEN) -> None:
        super().__init__(detail)
        self.detail = detail


class UserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, username: str, email: str, password_hash: str,
                     keyed: KeyedRequest | None = None) -> Created:
        """The new account; for a keyed request done before, the account it made.

        Raises AccountTaken, or KeyUsedForAnotherRequest when the key made an account for another request.
        """
        try:
            return await self._insert(username, email, password_hash, utcnow(), keyed)
        except IntegrityError as exc:
            if keyed and (earlier := await self.made_by(keyed)) is not None:
                return earlier
            raise AccountTaken(await self.refusal(username, email) or TAKEN) from exc

    async def import_account(self, username: str, email: str, password_hash: str, created_at: datetime) -> Created:
        """An account moved from the seed with its own password hash and creation time (`titanium import-seed`);
        the account an earlier import made of this name and address, as replayed.

        Raises AccountTaken when the name or the address is another account's, or the name a deleted one's.
        """
        try:
            return await self._insert(username, email, password_hash, created_at, keyed=None)
        except IntegrityError as exc:
            earlier = await self.by_username(username)
            if earlier is not None and earlier.email.lower() == email.lower():
                return Created(earlier, replayed=True)
            raise AccountTaken(await self.refusal(username, email) or TAKEN) from exc

    async def _insert(self, username: str, email: str, password_hash: str, created_at: datetime,
                      keyed: KeyedRequest | None) -> Created:
        async with self.engine.begin() as conn:
            # The unique keys decide, not a prior look-up: two registrations of one
            # name at the same moment cannot both pass, nor one of a name being retired.
            await conn.execute(insert(usernames).values(name=username.lower(), given_at=created_at))
            row = (await conn.execute(insert(users).values(
                username=username, email=email, password_hash=password_hash, created_at=created_at,
                updated_at=created_at, request_key=keyed.key if keyed else None,
                request_fingerprint=keyed.fingerprint if keyed else None).returning(*users.c))).one()
        return Created(_user(row), replayed=False)

    async def made_by(self, keyed: KeyedRequest) -> Created | None:
        """The account this key's registration made, if any (KeyUsedForAnotherRequest if for another request)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.request_key == keyed.key))).one_or_none()
        if row is None:
            return None
        if row.request_fingerprint != keyed.fingerprint:
            raise KeyUsedForAnotherRequest
        return Created(_user(row), replayed=True)

    async def refusal(self, username: str, email: str) -> str | None:
        """Why this name and address cannot be registered, if they cannot."""
        async with self.engine.connect() as conn:
            if await conn.scalar(select(exists().where(or_(func.lower(users.c.username) == username.lower(),
                                                           func.lower(users.c.email) == email.lower())))):
                return TAKEN
            if await conn.scalar(select(exists().where(usernames.c.name == username.lower()))):
                return RETIRED
        return None

    async def by_username(self, username: str) -> User | None:
        statement = select(users).where(func.lower(users.c.username) == username.lower())
        async with self.engine.connect() as conn:
            row = (await conn.execute(statement)).one_or_none()
        return _user(row) if row else None

    async def by_email(self, email: str) -> User | None:
        # Addresses are unique regardless of case (`refusal`), so at most one account answers.
        statement = select(users).where(func.lower(users.c.email) == email.lower())
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
        """The account gone, its follows with it, and its tokens void; False if there was no such account.

        Its name stays in `usernames`: nobody is given it again.
        """
        async with self.engine.begin() as conn:
            gone = await conn.execute(delete(users).where(users.c.id == user_id))
            if gone.rowcount != 1:
                return False
            await void_user_tokens(conn, user_id, revoke_until, deleted=True)
        return True

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(users)) or 0)


def _user(row: Any) -> User:
    mapping = row._mapping
    return User(id=mapping["id"], username=mapping["username"], email=mapping["email"],
                password_hash=mapping["password_hash"], created_at=mapping["created_at"])
