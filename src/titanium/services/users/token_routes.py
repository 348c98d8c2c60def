"""Internal routes the auth service calls to keep sessions: refresh families, sign-outs, password changes,
account deletions, and the revocation list it publishes to the other services.

Auth has checked the caller's access token before it calls these; the
gateway routes no path here (`/internal/...`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from titanium.core.passwords import hash_password, verify_password
from titanium.services.users.password_policy import contextual_weakness
from titanium.services.users.repository import User, UserRepository
from titanium.services.users.schemas import AccountDeletion, PasswordChange, SessionEnd, SessionRenewal, SessionStart
from titanium.services.users.sessions import SessionRefused, SessionRepository

router = APIRouter(prefix="/internal")
UserId = Annotated[int, Path(ge=1, lt=2**31)]


async def _sessions(request: Request) -> SessionRepository:
    return request.app.state.sessions


async def _users(request: Request) -> UserRepository:
    return request.app.state.repository


Sessions = Annotated[SessionRepository, Depends(_sessions)]
Users = Annotated[UserRepository, Depends(_users)]


@router.post("/sessions", status_code=201)
async def start_session(start: SessionStart, sessions: Sessions) -> dict[str, str]:
    try:
        family_id = await sessions.start(start.user_id, start.token_hash, start.expires_at)
    except SessionRefused as exc:
        raise HTTPException(409, exc.refusal.value) from None
    if family_id is None:
        raise HTTPException(404, "user not found")
    return {"family_id": family_id}


@router.post("/sessions/renew")
async def renew_session(renewal: SessionRenewal, sessions: Sessions) -> dict[str, object]:
    try:
        renewed = await sessions.renew(renewal.token_hash, renewal.new_token_hash, renewal.expires_at,
                                       renewal.revoke_until)
    except SessionRefused as exc:
        raise HTTPException(401, {"reason": exc.refusal.name.lower(), "message": exc.refusal.value}) from None
    return {"user_id": renewed.user_id, "username": renewed.username, "family_id": renewed.family_id}


@router.post("/sessions/end", status_code=204)
async def end_session(end: SessionEnd, sessions: Sessions) -> Response:
    await sessions.end(end.user_id, end.jti, end.session_id, end.token_hash, end.revoke_until)
    return Response(status_code=204)


async def _confirmed(users: UserRepository, user_id: int, password: str) -> User:
    user = await users.by_id(user_id)
    if user is None:
        raise HTTPException(404, "user not found")
    if not await verify_password(user.password_hash, password):
        raise HTTPException(403, "the current password is not right")
    return user


@router.put("/users/{user_id}/password", status_code=204)
async def change_password(user_id: UserId, change: PasswordChange, users: Users) -> Response:
    user = await _confirmed(users, user_id, change.current_password)
    if (problem := contextual_weakness(change.new_password, user.username, user.email)) is not None:
        raise HTTPException(422, problem)
    await users.change_password(user_id, await hash_password(change.new_password), change.revoke_until)
    return Response(status_code=204)


@router.post("/users/{user_id}/delete", status_code=204)
async def delete_account(user_id: UserId, deletion: AccountDeletion, users: Users) -> Response:
    await _confirmed(users, user_id, deletion.password)
    if not await users.delete(user_id, deletion.revoke_until):
        raise HTTPException(404, "user not found")
    return Response(status_code=204)


@router.get("/revocations")
async def revocation_list(sessions: Sessions, request: Request,
                          after: Annotated[int, Query(ge=0, lt=2**63)] = 0) -> dict[str, object]:
    # FastAPI would take the last of several `after`s; a version is one number.
    if len(request.query_params.getlist("after")) > 1:
        raise HTTPException(422, "give `after` once")
    return await sessions.revocations_after(after)
