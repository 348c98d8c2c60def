"""What a reader chose for the pages: their language and their theme, each kept in a cookie.

Both are set by a form on every page (a POST here, then back to the page:
no JavaScript needed; blog.js sends the theme's in the background so the
page need not reload). With no cookie, the language follows the browser's
Accept-Language and the theme the system's light or dark setting
(`prefers-color-scheme`), so most readers never need either. The cookies
hold a choice, never anything about who the reader is.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from titanium.services.blog.languages import LANGUAGE_COOKIE, LANGUAGE_NAMES

THEME_COOKIE = "titanium_theme"
THEMES = ("light", "dark")
COOKIE_SECONDS = 365 * 86400
COOKIE_PATH = "/blog"
_BLOG_PAGE = re.compile(r"^/blog(?:[/?][^\\\s]*)?$")
_FORM_BYTES = 4096  # two short fields; anything longer is not our form


def chosen_theme(request: Request) -> str | None:
    """The theme the reader chose ("light" or "dark"), or None to follow their system's setting."""
    theme = request.cookies.get(THEME_COOKIE)
    return theme if theme in THEMES else None


def safe_next(value: str | None) -> str:
    """Where to send the reader back to: a page of this blog, never another site ("//host", "/\\host")."""
    if not value or not _BLOG_PAGE.match(value) or value.startswith("/blog/api"):
        return "/blog/"
    return value


async def _form(request: Request) -> dict[str, str] | None:
    """The fields of a small urlencoded form, or None when the body is not one."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    if len(body) > _FORM_BYTES:
        return None
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=4, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


async def _remember(request: Request, field: str, allowed: Collection[str], cookie: str) -> Response:
    form = await _form(request)
    if form is None:
        return JSONResponse({"detail": "send the form as application/x-www-form-urlencoded"}, 415)
    choice = form.get(field, "")
    if choice not in allowed:
        return JSONResponse({"detail": f"{field} must be one of: {', '.join(allowed)}"}, 422)
    answer = RedirectResponse(safe_next(form.get("next")), status_code=303)
    answer.set_cookie(cookie, choice, max_age=COOKIE_SECONDS, path=COOKIE_PATH, httponly=True, samesite="lax",
                      secure=request.headers.get("x-forwarded-proto", request.url.scheme) == "https")
    return answer


async def choose_language(request: Request) -> Response:
    """The language switch: `language` (en or ko), then back to `next`."""
    return await _remember(request, "language", LANGUAGE_NAMES, LANGUAGE_COOKIE)


async def choose_theme(request: Request) -> Response:
    """The theme switch: `theme` (light or dark), then back to `next` (blog.js sends it without following)."""
    return await _remember(request, "theme", THEMES, THEME_COOKIE)
