"""Image uploads on a platform set up as production keeps them: in an S3-compatible bucket (moto's server, a process
started here), served by the blog at /blog/media/<name>."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from PIL import Image

from tests.integration.test_media_storage import _s3, s3_server  # noqa: F401 - s3_server is a fixture used here
from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform

UPLOADS = 4  # a writer's uploads a minute on this platform


@pytest.fixture(scope="module")
def bucket(s3_server: str) -> str:  # noqa: F811 - the fixture imported above
    name = f"titanium-media-{uuid.uuid4().hex[:12]}"
    _s3(s3_server, name, "PUT")
    return name


@pytest.fixture(scope="module")
def platform(own_platform: Callable[..., Platform], s3_server: str, bucket: str) -> Platform:  # noqa: F811
    return own_platform(env={
        **PLATFORM_ENV, "TITANIUM_S3_BUCKET": bucket, "TITANIUM_S3_ENDPOINT_URL": s3_server, "TITANIUM_S3_REGION": "us-east-1",
        # The standard variables, as from a Secret; nothing from this machine's own files or role.
        "AWS_ACCESS_KEY_ID": "titanium-test", "AWS_SECRET_ACCESS_KEY": "titanium-test-secret",
        "AWS_EC2_METADATA_DISABLED": "true", "TITANIUM_IMAGE_UPLOAD_RATE_LIMIT": f"{UPLOADS}/minute",
    })


def _objects(endpoint: str, bucket: str) -> list[str]:
    listing = ET.fromstring(_s3(endpoint, f"{bucket}?list-type=2"))  # noqa: S314 - the test's own server
    return [key.text or "" for key in listing.iter("{http://s3.amazonaws.com/doc/2006-03-01/}Key")]


def test_an_upload_is_kept_in_the_bucket_and_served_by_the_blog(platform: Platform, s3_server: str,  # noqa: F811
                                                                bucket: str) -> None:
    person = Client(platform.url).signed_up()
    picture = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 200, 90)).save(picture, "JPEG")
    refused = person.http.post("/blog/api/images", headers=person.auth,
                               files={"file": ("notes.jpg", b"plain words, not a picture", "image/jpeg")})
    assert refused.status_code == 415 and _objects(s3_server, bucket) == []
    answer = person.http.post("/blog/api/images", headers=person.auth,
                              files={"file": ("green.jpg", picture.getvalue(), "image/jpeg")})
    assert answer.status_code == 201, answer.text
    image = answer.json()
    assert _objects(s3_server, bucket) == [image["name"]]
    served = Client(platform.url).http.get(image["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(served.content)) as stored:  # read back from the bucket through the blog
        assert (stored.format, stored.size) == ("WEBP", (640, 480))
    assert not (platform.data_dir / "media").exists()


def test_uploads_past_the_limit_are_refused_until_later(platform: Platform) -> None:
    person = Client(platform.url).signed_up()
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(picture, "PNG")
    answers = [person.http.post("/blog/api/images", headers=person.auth,
                                files={"file": ("dot.png", picture.getvalue(), "image/png")}) for _ in range(UPLOADS + 1)]
    assert [answer.status_code for answer in answers] == [201] * UPLOADS + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1 and "uploads" in answers[-1].json()["detail"]
    # Another writer has a budget of their own.
    other = Client(platform.url).signed_up()
    assert other.http.post("/blog/api/images", headers=other.auth,
                           files={"file": ("dot.png", picture.getvalue(), "image/png")}).status_code == 201
