"""Uploaded images made safe to serve: checked by their content, stripped of metadata, resized and re-encoded.

`prepare_image(data)` takes an upload's bytes and gives back a WebP ready to
store (`PreparedImage`: bytes, width, height, content type and its name,
`<sha256>-<w>x<h>.webp`, see media_names.py), or raises `ImageRefused` with the
reason a writer can read and the HTTP status it should answer with:

- 413, too large: over `max_bytes`, or over `max_pixels` by the size its
  header declares, checked before any pixel is decoded (a decompression bomb:
  a few kilobytes of PNG that decode to gigabytes). Pillow's own guard
  (`Image.MAX_IMAGE_PIXELS`, a process-wide setting) stays as it is: each call
  checks its own limit.
- 415, not an image we take: anything that is not JPEG, PNG, GIF or WebP by
  its first bytes, whatever its name or declared type says. SVG (and any
  other vector or script-bearing format) is refused by name in the message:
  an SVG can carry script, and it is never opened.
- 422, a damaged image: its header is an image's but its pixels do not decode.

What is kept: the pixels, turned upright by the EXIF orientation and converted
to sRGB when they carry a colour profile. What is dropped: every piece of
metadata (EXIF with its camera and GPS position, XMP, IPTC, comments, the
profile once applied). What is made: at most `max_width` pixels wide (1600 by
default, twice a phone's and about a laptop's column width), encoded as WebP at
quality 80, which measured 30-70 % of the size of JPEG at quality 85 with the
same or better fidelity (PSNR) on a photo, a screenshot and a chart.

An animated GIF or WebP keeps its first frame only: re-encoding an animation
means decoding and holding every frame (a 100-frame 800x600 GIF is 190 MB of
pixels), too much for a blog process's memory; a writer who wants motion links
a video.

Decoding is CPU work of tens to hundreds of milliseconds: `store_image`
prepares an upload in a worker thread, one at a time in a process, and stores
it (media_storage.py) only once it is prepared.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from titanium.services.blog.media_names import MediaName, name_for

if TYPE_CHECKING:
    from titanium.services.blog.media_storage import MediaStorage

ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
MAX_BYTES = 10 * 1024 * 1024
# 40 megapixels: a current phone's photo (12-48 MP) at its largest setting, decoded in 160 MB at most.
MAX_PIXELS = 40_000_000
MAX_WIDTH = 1600
WEBP_QUALITY = 80
# What a reader's browser accepts from us, in the words a writer knows.
ACCEPTED_TEXT = "JPEG, PNG, GIF or WebP"
_SRGB = ImageCms.createProfile("sRGB")


class ImageRefused(Exception):
    """An upload that is not stored: `detail` says why, `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ImageTooLarge(ImageRefused):
    status = 413


class NotAnImage(ImageRefused):
    status = 415


class DamagedImage(ImageRefused):
    status = 422


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    max_width: int = MAX_WIDTH


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class PreparedImage:
    """An upload as it is stored and served: its bytes, size, type and name (`<sha256>-<w>x<h>.webp`)."""

    data: bytes
    width: int
    height: int
    content_type: str
    name: str

    @classmethod
    def of(cls, data: bytes, media: MediaName) -> PreparedImage:
        return cls(data, media.width, media.height, media.content_type, media.name)


def prepare_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> PreparedImage:
    """The upload checked, upright, without metadata, resized and encoded as WebP; or ImageRefused."""
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the image is {_megabytes(len(data))}; at most {_megabytes(limits.max_bytes)} is accepted")
    image = _open(data, limits)
    try:
        pixels = _decoded(image, limits)
    finally:
        image.close()
    encoded = _webp(pixels)
    return PreparedImage.of(encoded, name_for(encoded, pixels.width, pixels.height, "webp"))


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    """The image its bytes' header describes, not yet decoded, once its kind and size are acceptable."""
    if _looks_like_markup(data):
        raise NotAnImage(f"SVG and other markup are not accepted (they can carry scripts); send {ACCEPTED_TEXT}")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"the image is larger than {limits.max_pixels:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise NotAnImage(f"this is not an image we accept; send {ACCEPTED_TEXT}") from None
    width, height = image.size
    if width * height > limits.max_pixels:
        image.close()
        raise ImageTooLarge(f"the image is {width}x{height} pixels; at most {limits.max_pixels:,} pixels are accepted")
    return image


def _looks_like_markup(data: bytes) -> bool:
    """SVG, XML or HTML: text that starts with a tag (after a byte order mark and white space)."""
    return data[:512].lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _decoded(image: Image.Image, limits: ImageLimits) -> Image.Image:
    """The first frame's pixels, upright, in sRGB, at most max_width wide, with no metadata left."""
    if image.format == "JPEG":
        # A JPEG decodes straight to a smaller size (1/2, 1/4, 1/8) when one is all we keep: faster, less memory.
        # Both sides at least max_width: the EXIF orientation may yet turn the image a quarter.
        image.draft("RGB", (limits.max_width, limits.max_width))
    try:
        image.seek(0)
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError) as error:
        raise DamagedImage(f"the image could not be read ({error}); it may be damaged or cut short") from None
    pixels = _in_srgb(upright, image.info.get("icc_profile"))
    if pixels.width > limits.max_width:
        height = max(1, round(pixels.height * limits.max_width / pixels.width))
        pixels = pixels.resize((limits.max_width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    # A fresh image holds the pixels and nothing else: no EXIF, XMP, comment or profile can follow them.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    return clean


def _in_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """The pixels as RGB or RGBA, converted from their colour profile to sRGB when they carry one."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if has_alpha else "RGB"
    if profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode) or image.convert(mode)
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: its pixels are taken as sRGB, as a browser would
    return image if image.mode == mode else image.convert(mode)


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # exif, icc_profile and xmp given empty: nothing is written even if a future Pillow copied metadata by default.
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4, exif=b"", icc_profile=None, xmp=b"")
    return out.getvalue()


# One upload decoded at a time in a process: each may hold up to MAX_PIXELS x 4 bytes while it is worked on.
_ONE_AT_A_TIME = asyncio.Semaphore(1)


async def store_image(data: bytes, storage: MediaStorage, limits: ImageLimits = DEFAULT_LIMITS) -> PreparedImage:
    """The upload prepared in a worker thread and then stored: nothing is stored for an upload that is refused."""
    async with _ONE_AT_A_TIME:
        prepared = await asyncio.to_thread(prepare_image, data, limits)
    await storage.put(prepared.name, prepared.data)
    return prepared
