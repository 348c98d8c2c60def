"""The SQL of sign-in sessions: refresh token families and the revocation list.

A login starts a family; each renewal spends the presented token and adds
its successor to the family, in one transaction whose UPDATE only succeeds
on a token not yet spent, so two renewals racing with one token cannot both
win. Presenting a spent token again is a reuse: somebody holds a copy, and
the whole family is ended. Ending a family also appends a "session" entry
to the revocation list, which voids the access tokens it gave.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from titanium.services.users.tables import refresh_tokens, revocations, users

# Purged entries no longer match any token; kept a while longer than needed, in case of clock skew.
PURGE_MARGIN_SECONDS = 300.0


class Refusal(Enum):
    UNKNOWN = "unknown refresh token"
    EXPIRED = "refresh token expired"
    REVOKED = "refresh token revoked"
    REUSED = "refresh token already used; the session has been ended"


@dataclass(frozen=True)
class Renewal:
    user_id: int
    username: str
    family_id: str


class SessionRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


class SessionRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def start(self, user_id: int, token_hash: str, expires_at: float) -> str | None:
        """A new family holding its first refresh token; its id (None when there is no such user)."""
        family_id = uuid.uuid4().hex
        try:
            async with self.engine.begin() as conn:
                if await conn.scalar(select(users.c.id).where(users.c.id == user_id)) is None:
                    return None
                await conn.execute(insert(refresh_tokens).values(
                    token_hash=token_hash, family_id=family_id, user_id=user_id, issued_at=time.time(),
                    expires_at=expires_at))
        except IntegrityError as exc:
            # 256 random bits never collide: a hash stored already is this request sent twice (auth
            # resends it when the process that had it died) or a token presented again.
            started = await self._started_with(token_hash, user_id)
            if started is None:
                raise SessionRefused(Refusal.REUSED) from exc
            return started
        return family_id

    async def _started_with(self, token_hash: str, user_id: int) -> str | None:
        """The family that this very token started for this user, while nothing has used or ended it."""
        async with self.engine.connect() as conn:
            family_id: str | None = await conn.scalar(select(refresh_tokens.c.family_id).where(
                refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.user_id == user_id,
                refresh_tokens.c.spent_at.is_(None), refresh_tokens.c.revoked_at.is_(None)))
        return family_id

    async def renew(self, token_hash: str, new_token_hash: str, expires_at: float, revoke_until: float) -> Renewal:
        """Spend the token and add `new_token_hash` to its family; SessionRefused if it cannot be renewed."""
        now = time.time()
        async with self.engine.begin() as conn:
            spent = await conn.execute(
                update(refresh_tokens)
                .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.spent_at.is_(None),
                       refresh_tokens.c.revoked_at.is_(None), refresh_tokens.c.expires_at > now)
                .values(spent_at=now)
                .returning(refresh_tokens.c.family_id, refresh_tokens.c.user_id))
            row = spent.one_or_none()
            if row is not None:
                username = await conn.scalar(select(users.c.username).where(users.c.id == row.user_id))
                if username is not None:
                    await conn.execute(insert(refresh_tokens).values(
                        token_hash=new_token_hash, family_id=row.family_id, user_id=row.user_id, issued_at=now,
                        expires_at=expires_at))
                    return Renewal(row.user_id, username, row.family_id)
        if row is not None:
            raise SessionRefused(Refusal.REVOKED)  # the account is gone
        raise SessionRefused(await self._why_not_renewed(token_hash, now, revoke_until))

    async def _why_not_renewed(self, token_hash: str, now: float, revoke_until: float) -> Refusal:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash))
                   ).one_or_none()
            if row is None:
                return Refusal.UNKNOWN
            if row.revoked_at is not None:
                return Refusal.REVOKED
            if row.spent_at is not None:
                await end_families(conn, [row.family_id], revoke_until)
                return Refusal.REUSED
            return Refusal.EXPIRED

    async def end(self, user_id: int, jti: str, family_id: str | None, token_hash: str | None,
                  revoke_until: float) -> None:
        """Sign out: the access token, its family and the presented refresh token's family (if the user's) end."""
        async with self.engine.begin() as conn:
            families = {family_id} if family_id else set()
            if token_hash:
                owned = await conn.scalar(select(refresh_tokens.c.family_id).where(
                    refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.user_id == user_id))
                if owned is not None:
                    families.add(owned)
            await record_revocation(conn, kind="token", subject=jti, expires_at=revoke_until, created_at=time.time())
            await end_families(conn, sorted(families), revoke_until)

    async def revocations_after(self, version: int) -> dict[str, object]:
        """The revocation list's entries after `version`, its version, and the largest user id given."""
        now = time.time()
        async with self.engine.connect() as conn:
            # The version is the last entry this one query saw: an entry
            # committed after it is after the version, and is asked for next time.
            rows = (await conn.execute(
                select(revocations.c.id, revocations.c.kind, revocations.c.subject, revocations.c.issued_before,
                       revocations.c.expires_at)
                .where(revocations.c.id > version).order_by(revocations.c.id))).all()
            max_user_id = await conn.scalar(select(func.max(users.c.id)))
        return {
            "version": rows[-1].id if rows else version,
            "max_user_id": max_user_id or 0,
            "entries": [{"kind": row.kind, "subject": row.subject, "issued_before": row.issued_before,
                         "expires_at": row.expires_at} for row in rows
                        if row.expires_at is None or row.expires_at > now],
        }


# Any constant: the one lock that orders the writers of the revocation list.
_REVOCATIONS_LOCK = 0x7469_7461_6E69_756D & 0x7FFF_FFFF_FFFF_FFFF


async def record_revocation(conn: AsyncConnection, **entry: object) -> None:
    """Add an entry to the revocation list, in the order the entries will be committed.

    Readers ask for the entries after the last id they saw. On PostgreSQL ids
    are drawn when a row is inserted, not when it is committed: a transaction
    that drew id 10 and committed after another's 11 would be skipped by a
    reader that saw 11. One lock, held to commit, makes the order the same.
    (SQLite has one writer at a time already.)
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(_REVOCATIONS_LOCK)))
    await conn.execute(insert(revocations).values(**entry))


async def end_families(conn: AsyncConnection, family_ids: list[str], revoke_until: float) -> None:
    """End these refresh families, and void the access tokens they gave (until the last of them expires)."""
    now = time.time()
    for family_id in family_ids:
        await conn.execute(update(refresh_tokens)
                           .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
                           .values(revoked_at=now))
        await record_revocation(conn, kind="session", subject=family_id, expires_at=revoke_until, created_at=now)
    await _purge(conn, now)


async def void_user_tokens(conn: AsyncConnection, user_id: int, revoke_until: float, *, deleted: bool) -> None:
    """Every refresh family of the user ends, and every access token issued until now is void."""
    now = time.time()
    await conn.execute(update(refresh_tokens)
                       .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
                       .values(revoked_at=now))
    if deleted:
        await conn.execute(delete(refresh_tokens).where(refresh_tokens.c.user_id == user_id))
        entry: dict[str, object] = {"kind": "deleted", "subject": str(user_id), "expires_at": None}
    else:
        entry = {"kind": "user", "subject": str(user_id), "issued_before": now, "expires_at": revoke_until}
    await record_revocation(conn, created_at=now, **entry)
    await _purge(conn, now)


async def _purge(conn: AsyncConnection, now: float) -> None:
    # Entries whose tokens have all expired; spent or ended refresh tokens past their own expiry.
    await conn.execute(delete(revocations).where(revocations.c.expires_at < now - PURGE_MARGIN_SECONDS))
    await conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at < now - PURGE_MARGIN_SECONDS))
