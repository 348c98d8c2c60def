"""The comments service's counts, taken in (internal: the gateway forwards no `/internal` path).

The comments service sends a post's comment count from its outbox after
each change, with a version: the newest version wins (repository.
set_comment_count), so a count sent twice, late or out of order changes
nothing. A post deleted meanwhile takes no count: still a success, or the
sender would try again for ever.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from titanium.core.routes import TitaniumRoute
from titanium.services.blog import families

internal = APIRouter(prefix="/internal", route_class=TitaniumRoute, include_in_schema=False)


class CommentCount(BaseModel):
    count: int = Field(ge=0, lt=2**31)
    version: int = Field(ge=0, lt=2**63)


class Taken(BaseModel):
    taken: bool  # false: an equal or newer version was there already, or the post is gone


@internal.put("/posts/{post_id}/comment-count", response_model=Taken)
async def set_comment_count(post_id: Annotated[int, Path(ge=1, lt=2**31)], sent: CommentCount,
                            request: Request) -> Taken:
    """Keep the post's comment count unless a newer one is there; drop the cached copies that show it."""
    service = request.app.state.blog
    taken = await service.repository.set_comment_count(post_id, sent.count, sent.version)
    if taken:
        ownership = await service.repository.ownership(post_id)
        changed = [families.post(post_id), families.ALL_LISTS]
        if ownership is not None:
            changed.append(families.category_lists(ownership.category_slug))
        await service.cache.invalidate(*changed)
    return Taken(taken=taken)
