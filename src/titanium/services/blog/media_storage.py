"""Where uploaded images are kept: a folder on the laptop, S3-compatible object storage in production.

One interface, `MediaStorage` (put, get, exists, delete, url), two
implementations, chosen by the blog's settings in `open_media_storage`:

- `TITANIUM_S3_BUCKET` set: `S3Storage`, on AWS S3 or any S3-compatible
  server (`TITANIUM_S3_ENDPOINT_URL`, e.g. MinIO, Ceph, R2; path-style
  addressing then), in `TITANIUM_S3_REGION`. The client is obstore (Python
  bindings of the Rust object_store crate that Apache Arrow maintains),
  imported only when a bucket is set: with one upload stored and read it added
  12 MB to the blog process, aiobotocore 31 MB (docs/adr/0013). Credentials
  come from the standard AWS variables: `AWS_ACCESS_KEY_ID` and
  `AWS_SECRET_ACCESS_KEY` (from a Secret), or a web identity token
  (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`: a Kubernetes service
  account bound to a role), or the instance's role; never from Titanium's own
  settings, so no key is written in a second place.
- otherwise: `DiskStorage`, in `TITANIUM_MEDIA_DIR` (default `data/media`).

Images are stored under their own names (`<sha256>-<w>x<h>.webp`, see
media_names.py) and nothing else: a name that is not one is refused by put
and found by nobody. Either way the blog serves them itself at
`/blog/media/<name>` (`url`): posts keep one URL wherever the images live, the
pages' Content-Security-Policy stays `img-src 'self' https:`, and since a
name never changes its content, the answer may be cached for a year
(`IMMUTABLE`) by browsers and by any cache in front of the gateway.

A storage that cannot be reached raises `MediaUnavailable` (answer 503);
an image that is not there is None from get, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from titanium.services.blog.media_names import MEDIA_PATH, MediaName, parse_name

if TYPE_CHECKING:
    from titanium.core.settings import BlogSettings

IMMUTABLE = "public, max-age=31536000, immutable"


class MediaUnavailable(Exception):
    """The storage could not be reached or refused the request: answer 503, the upload can be tried again."""

    status = 503


def _checked(name: str) -> MediaName:
    media = parse_name(name)
    if media is None:
        raise ValueError(f"{name!r} is not the name of a stored image")
    return media


class MediaStorage(ABC):
    """Stored images by name."""

    @abstractmethod
    async def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name` (an image's own name; storing it again changes nothing)."""

    @abstractmethod
    async def get(self, name: str) -> bytes | None:
        """The image's bytes, or None when no image has that name."""

    @abstractmethod
    async def exists(self, name: str) -> bool: ...

    @abstractmethod
    async def delete(self, name: str) -> None:
        """Remove the image; removing one that is not there is not an error."""

    def url(self, name: str) -> str:
        """Where a reader's browser fetches the image: the blog serves every image itself."""
        return MEDIA_PATH + _checked(name).name


class DiskStorage(MediaStorage):
    """Images as files in one folder (the laptop; or one server with a volume)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / _checked(name).name

    async def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        try:
            await asyncio.to_thread(self._write, path, data)
        except OSError as error:
            raise MediaUnavailable(f"the image could not be written: {error.strerror}") from error

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return  # the same name is the same bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place: a reader never sees half an image, nor does a crash leave one.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    async def get(self, name: str) -> bytes | None:
        if parse_name(name) is None:
            return None
        try:
            return await asyncio.to_thread(self._path(name).read_bytes)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise MediaUnavailable(f"the image could not be read: {error.strerror}") from error

    async def exists(self, name: str) -> bool:
        return parse_name(name) is not None and await asyncio.to_thread(self._path(name).is_file)

    async def delete(self, name: str) -> None:
        if parse_name(name) is None:
            return
        try:
            await asyncio.to_thread(self._path(name).unlink, missing_ok=True)
        except OSError as error:
            raise MediaUnavailable(f"the image could not be removed: {error.strerror}") from error


class S3Storage(MediaStorage):
    """Images as objects in one bucket of S3 or an S3-compatible server (production)."""

    def __init__(self, store: Any, bucket: str) -> None:
        self._store = store
        self.bucket = bucket

    @classmethod
    async def open(cls, bucket: str, endpoint_url: str | None = None, region: str | None = None,
                   attempts: int = 3) -> S3Storage:
        """A storage on one bucket; each call tried `attempts` times (server errors, lost connections)."""
        from obstore.store import S3Store

        place: dict[str, Any] = {"region": region} if region else {}
        if endpoint_url:
            # Another server than AWS: addressed by path (a bucket needs no DNS name), plain HTTP allowed
            # when that is what the URL says (a server inside the cluster).
            place |= {"endpoint": endpoint_url, "virtual_hosted_style_request": False}
        else:
            place |= {"virtual_hosted_style_request": True}
        store = S3Store(
            bucket, **place,
            client_options={"allow_http": bool(endpoint_url and endpoint_url.startswith("http://")),
                            "connect_timeout": timedelta(seconds=2), "timeout": timedelta(seconds=10)},
            retry_config={"max_retries": attempts - 1, "retry_timeout": timedelta(seconds=10)},
        )
        return cls(store, bucket)

    async def put(self, name: str, data: bytes) -> None:
        import obstore

        media = _checked(name)
        async with self._answering("stored"):
            await obstore.put_async(self._store, media.name, data,
                                    attributes={"Content-Type": media.content_type, "Cache-Control": IMMUTABLE})

    async def get(self, name: str) -> bytes | None:
        import obstore

        if parse_name(name) is None:
            return None
        async with self._answering("read"):
            try:
                found = await obstore.get_async(self._store, name)
            except FileNotFoundError as error:
                _unless_the_bucket_is_missing(error)
                return None
            return bytes(await found.bytes_async())

    async def exists(self, name: str) -> bool:
        import obstore

        if parse_name(name) is None:
            return False
        async with self._answering("looked up"):
            try:
                await obstore.head_async(self._store, name)
            except FileNotFoundError as error:
                _unless_the_bucket_is_missing(error)
                return False
            return True

    async def delete(self, name: str) -> None:
        import obstore

        if parse_name(name) is None:
            return
        async with self._answering("removed"):
            await obstore.delete_async(self._store, name)

    @contextlib.asynccontextmanager
    async def _answering(self, what: str) -> AsyncIterator[None]:
        """Every failure of the storage service as MediaUnavailable, saying what failed and how."""
        from obstore.exceptions import BaseError

        try:
            yield
        # obstore raises FileNotFoundError, PermissionError... for what the server answered, its own errors otherwise.
        except (BaseError, OSError) as error:
            # The first line says what happened; the rest is the client's debugging dump.
            how = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise MediaUnavailable(f"the image could not be {what}: {how}") from error


def _unless_the_bucket_is_missing(error: FileNotFoundError) -> None:
    """An object that is not there is an answer; a bucket that is not there is a storage set up wrong."""
    if "NoSuchBucket" in str(error):
        raise error


async def open_media_storage(settings: BlogSettings) -> MediaStorage:
    """The storage the settings choose: S3 when a bucket is set, the media folder otherwise."""
    if settings.s3_bucket:
        return await S3Storage.open(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    return DiskStorage(settings.media_dir or settings.data_dir / "media")
