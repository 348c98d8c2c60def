"""The names of uploaded images, and the URLs the blog serves them at.

A stored image is named by what it is: the SHA-256 of its bytes, its width and
height in pixels, and its format, as `<64 hex digits>-<width>x<height>.webp`.
The size is in the name so that a page can give each <img> its width and
height (the text does not jump while the image loads) without asking the
database on every render; the hash makes a name immutable, so a reader's
browser and any cache in front of the blog may keep it for ever, and one
image uploaded twice is stored once.

This module imports nothing heavy: the renderer uses it on every page, while
the image processing (Pillow) and the storage clients load only where uploads
are handled.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MEDIA_PATH = "/blog/media/"
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
# Sides up to 99,999 pixels: wider than anything the upload accepts, and short enough to bound the name.
_NAME = re.compile(r"^([0-9a-f]{64})-([1-9][0-9]{0,4})x([1-9][0-9]{0,4})\.(webp|jpg|png)$")


@dataclass(frozen=True)
class MediaName:
    """What a stored image's name says about it."""

    digest: str
    width: int
    height: int
    extension: str

    @property
    def name(self) -> str:
        return f"{self.digest}-{self.width}x{self.height}.{self.extension}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.extension]

    @property
    def url(self) -> str:
        return MEDIA_PATH + self.name


def name_for(data: bytes, width: int, height: int, extension: str) -> MediaName:
    """The name of an encoded image: its bytes' hash, its size and its format."""
    if extension not in CONTENT_TYPES:
        raise ValueError(f"no stored image is a .{extension}")
    return MediaName(hashlib.sha256(data).hexdigest(), width, height, extension)


def parse_name(name: str) -> MediaName | None:
    """The parts of a stored image's name, or None when `name` is not one (nothing else is ever stored)."""
    match = _NAME.match(name)
    if match is None:
        return None
    return MediaName(match[1], int(match[2]), int(match[3]), match[4])


def parse_media_url(url: str) -> MediaName | None:
    """The stored image a URL of this blog names (`/blog/media/<name>`), or None."""
    if not url.startswith(MEDIA_PATH):
        return None
    return parse_name(url[len(MEDIA_PATH):])
