"""Where uploaded images are kept: a folder on the laptop, S3-compatible object storage in production.

One interface, `MediaStorage` (put, get, exists, delete, url, close), two
implementations, chosen by the blog's settings in `open_media_storage`:

- `TITANIUM_S3_BUCKET` set: `S3Storage`, on AWS S3 or any S3-compatible
  server (`TITANIUM_S3_ENDPOINT_URL`, e.g. MinIO, Ceph, R2; path-style
  addressing then), in `TITANIUM_S3_REGION`. Credentials come from botocore's
  standard chain: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (from a
  Secret), a web identity token (a Kubernetes service account bound to a
  role), or a profile; never from Titanium's own settings, so no key is
  written in a second place. aiobotocore is imported only here, when a bucket
  is set: a laptop's blog process never loads it.
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
import functools
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
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

    async def close(self) -> None:  # noqa: B027 - nothing to close unless an implementation holds a client
        """Release what the storage holds open."""


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


@functools.cache
def _session() -> Any:
    """One botocore session a process: each new one reads S3's API description again (a second or more)."""
    from aiobotocore.session import get_session

    return get_session()


class S3Storage(MediaStorage):
    """Images as objects in one bucket of S3 or an S3-compatible server (production)."""

    def __init__(self, client: Any, bucket: str, exit_stack: AsyncExitStack) -> None:
        self._client = client
        self.bucket = bucket
        self._exit_stack = exit_stack

    @classmethod
    async def open(cls, bucket: str, endpoint_url: str | None = None, region: str | None = None,
                   attempts: int = 3) -> S3Storage:
        """A storage holding one client (and its connection pool) until close(); each call tried `attempts` times."""
        from botocore.config import Config

        config = Config(
            connect_timeout=2, read_timeout=10, retries={"max_attempts": attempts, "mode": "standard"},
            # Servers other than AWS are addressed by path (bucket names need no DNS entry), and are sent
            # checksums only where the API requires them: several S3-compatible servers refuse the newer ones.
            s3={"addressing_style": "path"} if endpoint_url else None,
            request_checksum_calculation="when_required" if endpoint_url else "when_supported",
            response_checksum_validation="when_required" if endpoint_url else "when_supported",
        )
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            _session().create_client("s3", endpoint_url=endpoint_url, region_name=region, config=config))
        return cls(client, bucket, stack)

    async def close(self) -> None:
        await self._exit_stack.aclose()

    async def put(self, name: str, data: bytes) -> None:
        media = _checked(name)
        async with self._answering("stored"):
            await self._client.put_object(Bucket=self.bucket, Key=media.name, Body=data,
                                          ContentType=media.content_type, CacheControl=IMMUTABLE)

    async def get(self, name: str) -> bytes | None:
        if parse_name(name) is None:
            return None
        async with self._answering("read"):
            try:
                answer = await self._client.get_object(Bucket=self.bucket, Key=name)
            except self._client.exceptions.NoSuchKey:
                return None
            async with answer["Body"] as body:
                data: bytes = await body.read()
                return data

    async def exists(self, name: str) -> bool:
        if parse_name(name) is None:
            return False
        async with self._answering("looked up"):
            try:
                await self._client.head_object(Bucket=self.bucket, Key=name)
            except self._client.exceptions.ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
            return True

    async def delete(self, name: str) -> None:
        if parse_name(name) is None:
            return
        async with self._answering("removed"):
            await self._client.delete_object(Bucket=self.bucket, Key=name)

    @contextlib.asynccontextmanager
    async def _answering(self, what: str) -> AsyncIterator[None]:
        """Every failure of the storage service as MediaUnavailable, saying what failed."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "an error")
            raise MediaUnavailable(f"the image could not be {what}: object storage answered {code}") from error
        except (TimeoutError, BotoCoreError, OSError) as error:
            raise MediaUnavailable(f"the image could not be {what}: object storage is unreachable ({error})") from error


async def open_media_storage(settings: BlogSettings) -> MediaStorage:
    """The storage the settings choose: S3 when a bucket is set, the media folder otherwise."""
    if settings.s3_bucket:
        return await S3Storage.open(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region)
    return DiskStorage(settings.media_dir or settings.data_dir / "media")
