"""What a public route declares for the API document (docs/adr/0021-one-api-document.md).

Every refusal is `{"detail": ...}` (core/errors.py): a sentence, or for a
422 the fields that were wrong. A route lists the refusals it gives with
`errors(...)`, and says with `BEARER` or `BEARER_OPTIONAL` that it reads an
access token; the gateway's document adds what the gateway itself answers
(429 past an address's budget, 503 when a service does not answer).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# The name of the security scheme in the platform's document (services/gateway/api_document.py).
BEARER_SCHEME = "bearer"
# openapi_extra of a route that needs an access token, and of one that reads it when it is sent.
BEARER: dict[str, Any] = {"security": [{BEARER_SCHEME: []}]}
BEARER_OPTIONAL: dict[str, Any] = {"security": [{BEARER_SCHEME: []}, {}]}


class FieldError(BaseModel):
    """One field that was wrong: where it is, and what is wrong with it."""

    loc: list[str | int] = Field(description="where: body, query or path, then the field's name")
    msg: str
    type: str


class ErrorAnswer(BaseModel):
    """Every refusal: what was wrong, in a sentence, or for a 422 each field that was."""

    detail: str | list[FieldError]


ERROR_MEANINGS = {
    400: "the request is malformed (a header or key not as the rule says)",
    401: "no access token, or one not accepted (expired, revoked, forged); `WWW-Authenticate: Bearer`",
    403: "the token is good but this caller may not do this",
    404: "no such thing (or a path parameter no route takes)",
    405: "this address does not take this method (`Allow` names those it takes)",
    409: "in conflict with what is there (a name taken, a concurrent change)",
    410: "what this request made is gone since",
    413: "the body is larger than the limit",
    422: "a field is wrong: `detail` names each",
    429: "too many requests; `Retry-After` says how many seconds to wait",
    503: "a service this needs does not answer now; `Retry-After` says when to try again",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that refuses with these codes, each `{"detail": ...}`."""
    return {code: {"model": ErrorAnswer, "description": ERROR_MEANINGS[code]} for code in codes}
