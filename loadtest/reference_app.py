"""The bare reference app: the blog's post list, served from memory by FastAPI and nothing else.

The list is the blog's own answer to `GET /blog/api/posts?limit=20`, fetched by
loadtest/run.py into the file REFERENCE_BODY names, and returned the way a
FastAPI handler returns data (the framework encodes it): the reference the
performance targets were set against. run.py serves it with uvicorn (uvloop,
httptools, no access log), one process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

POSTS = json.loads(Path(os.environ["REFERENCE_BODY"]).read_text())

app = FastAPI()


@app.get("/blog/api/posts")
async def posts(limit: int = 20) -> list[dict[str, Any]]:
    return POSTS[:limit]
