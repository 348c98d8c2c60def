"""The bare reference app: the blog's post list, served from memory by FastAPI and nothing else.

The body is the blog's own answer to `GET /blog/api/posts?limit=20`, fetched by
loadtest/run.py into the file REFERENCE_BODY names. It is sent as the bytes it
is, so this is about the fastest any FastAPI service answers on this machine.
run.py serves it with uvicorn (uvloop, httptools, no access log), one process.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Response

POSTS = Path(os.environ["REFERENCE_BODY"]).read_bytes()

app = FastAPI()


@app.get("/blog/api/posts")
async def posts() -> Response:
    return Response(POSTS, media_type="application/json")
