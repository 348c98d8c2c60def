"""Where uploads are kept: a folder, and a real S3-compatible server (moto's, started here as its own process).

The same tests run against both implementations; the S3 ones speak HTTP to the
server exactly as production speaks to its object storage.
"""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import obstore
import pytest
from PIL import Image

from titanium.core.settings import BlogSettings
from titanium.services.blog.images import ImageRefused, store_image
from titanium.services.blog.media_names import name_for
from titanium.services.blog.media_storage import (
    IMMUTABLE,
    DiskStorage,
    MediaStorage,
    MediaUnavailable,
    S3Storage,
    open_media_storage,
)

REGION = "us-east-1"
IMAGE = b"RIFF....WEBPVP8 not really an image, the storage does not care"
NAME = name_for(IMAGE, 640, 480, "webp").name


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's standalone S3-compatible server on a free port, for this module's tests."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            pytest.fail(f"moto's server exited: {server.stderr.read().decode() if server.stderr else ''}", pytrace=False)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("moto's server did not listen within 60 s (is moto[server] installed? make install)")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials from the standard variables, as in production; nothing from this machine's own files or role."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "titanium-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "titanium-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _s3(endpoint: str, path: str, method: str = "GET") -> bytes:
    """A plain HTTP request to the S3 server (moto checks no signature here): the tests' view, apart from the client's."""
    with urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{path}", method=method), timeout=10) as answer:  # noqa: S310
        return bytes(answer.read())


async def _with_new_bucket(endpoint: str) -> S3Storage:
    bucket = f"titanium-test-{uuid.uuid4().hex[:12]}"
    _s3(endpoint, bucket, "PUT")
    return await S3Storage.open(bucket, endpoint, REGION)


def _objects(endpoint: str, storage: S3Storage) -> list[str]:
    listing = ET.fromstring(_s3(endpoint, f"{storage.bucket}?list-type=2"))  # noqa: S314 - the test's own server
    return [key.text or "" for key in listing.iter("{http://s3.amazonaws.com/doc/2006-03-01/}Key")]


@pytest.fixture(params=["disk", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStorage]:
    if request.param == "disk":
        yield DiskStorage(tmp_path / "media")
        return
    yield await _with_new_bucket(request.getfixturevalue("s3_server"))


async def test_an_image_is_stored_found_served_from_the_blog_and_removed(storage: MediaStorage) -> None:
    assert await storage.get(NAME) is None and not await storage.exists(NAME)
    await storage.put(NAME, IMAGE)
    await storage.put(NAME, IMAGE)  # the same name again: the same bytes, nothing changes
    assert await storage.get(NAME) == IMAGE and await storage.exists(NAME)
    assert storage.url(NAME) == f"/blog/media/{NAME}"
    await storage.delete(NAME)
    await storage.delete(NAME)  # already gone: not an error
    assert await storage.get(NAME) is None and not await storage.exists(NAME)


@pytest.mark.parametrize("name", ["../../etc/passwd", "notes.txt", NAME.replace(".webp", ".svg"), NAME + "/x", ""])
async def test_only_an_images_own_name_is_ever_stored_or_found(storage: MediaStorage, name: str) -> None:
    with pytest.raises(ValueError, match="not the name of a stored image"):
        await storage.put(name, IMAGE)
    assert await storage.get(name) is None and not await storage.exists(name)
    await storage.delete(name)


async def test_objects_carry_their_type_and_may_be_cached_for_ever(s3_server: str) -> None:
    storage = await _with_new_bucket(s3_server)
    await storage.put(NAME, IMAGE)
    stored = await obstore.get_async(storage._store, NAME)  # the headers the server answers a GET with
    assert (stored.attributes["Content-Type"], stored.attributes["Cache-Control"]) == ("image/webp", IMMUTABLE)
    assert _objects(s3_server, storage) == [NAME]


async def test_an_s3_server_that_cannot_be_reached_is_a_503_not_a_crash() -> None:
    # Tried once (production tries three times, backing off between them).
    storage = await S3Storage.open("titanium-media", f"http://127.0.0.1:{_free_port()}", REGION, attempts=1)
    for attempt in (storage.put(NAME, IMAGE), storage.get(NAME), storage.exists(NAME), storage.delete(NAME)):
        with pytest.raises(MediaUnavailable, match="error sending request") as failed:
            await attempt
        assert failed.value.status == 503


async def test_a_missing_bucket_is_a_503_that_names_the_problem(s3_server: str) -> None:
    storage = await S3Storage.open("titanium-no-such-bucket", s3_server, REGION)
    with pytest.raises(MediaUnavailable, match="bucket") as failed:
        await storage.put(NAME, IMAGE)
    assert failed.value.status == 503


async def test_refused_uploads_leave_nothing_in_the_bucket(s3_server: str) -> None:
    storage = await _with_new_bucket(s3_server)
    for refused in (b"not an image", b"<svg><script>alert(1)</script></svg>", b"\0" * (11 * 1024 * 1024)):
        with pytest.raises(ImageRefused):
            await store_image(refused, storage)
    assert _objects(s3_server, storage) == []
    upload = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 120, 200)).save(upload, "PNG")
    prepared = await store_image(upload.getvalue(), storage)
    assert _objects(s3_server, storage) == [prepared.name] and await storage.get(prepared.name) == prepared.data


async def test_the_settings_choose_object_storage_when_a_bucket_is_set(s3_server: str, tmp_path: Path) -> None:
    bucket = await _with_new_bucket(s3_server)
    s3 = await open_media_storage(BlogSettings(s3_bucket=bucket.bucket, s3_endpoint_url=s3_server, s3_region=REGION))
    assert isinstance(s3, S3Storage) and s3.bucket == bucket.bucket
    await s3.put(NAME, IMAGE)
    assert _objects(s3_server, bucket) == [NAME]
    disk = await open_media_storage(BlogSettings(media_dir=tmp_path / "uploads"))
    assert isinstance(disk, DiskStorage) and disk.directory == tmp_path / "uploads"
    # A manifest's empty values mean "not set".
    default = await open_media_storage(BlogSettings(data_dir=tmp_path, media_dir="", s3_bucket="", s3_endpoint_url=""))
    assert isinstance(default, DiskStorage) and default.directory == tmp_path / "media"


def test_a_blog_without_a_bucket_never_loads_the_s3_client(tmp_path: Path) -> None:
    probe = (
        "import asyncio, sys\n"
        "from titanium.core.settings import BlogSettings\n"
        "from titanium.services.blog.media_storage import open_media_storage\n"
        f"asyncio.run(open_media_storage(BlogSettings(data_dir={str(tmp_path)!r})))\n"
        "print(sorted(name for name in ('obstore', 'botocore', 'boto3') if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_disk_write_is_whole_or_absent(tmp_path: Path) -> None:
    storage = DiskStorage(tmp_path)
    asyncio.run(storage.put(NAME, IMAGE))
    assert [path.name for path in tmp_path.iterdir()] == [NAME]  # no temporary file left beside it
