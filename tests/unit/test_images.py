"""Uploaded images: what is refused (and with which status), and what is kept of what is accepted.

Every image here is made by Pillow in the test; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from titanium.services.blog.images import (
    DamagedImage,
    ImageLimits,
    ImageRefused,
    ImageTooLarge,
    NotAnImage,
    prepare_image,
    store_image,
)
from titanium.services.blog.media_storage import DiskStorage

RED, BLUE = (220, 20, 20), (20, 20, 220)


def _encoded(image: Image.Image, format_: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format_, **options)
    return out.getvalue()


def _halves(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue: which way up it ends is plain to see."""
    image = Image.new(mode, size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose pixel data is a few bytes: decoding it would fail."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def _refused(data: bytes, kind: type[ImageRefused], status: int, limits: ImageLimits | None = None) -> str:
    with pytest.raises(kind) as refused:
        prepare_image(data, limits) if limits else prepare_image(data)
    assert refused.value.status == status
    return refused.value.detail


# --- refused ----------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",  # a PDF saved as photo.jpg
    b"PK\x03\x04" + b"\0" * 100,  # a zip archive saved as photo.png
    b"Just some notes, named vacation.jpg",
    b"",
])
def test_what_is_not_an_image_is_refused_by_its_content_whatever_its_name(content: bytes) -> None:
    assert "JPEG, PNG, GIF or WebP" in _refused(content, NotAnImage, 415)


@pytest.mark.parametrize("image_format", ["BMP", "TIFF", "ICO"])
def test_images_in_formats_a_page_should_not_serve_are_refused(image_format: str) -> None:
    _refused(_encoded(_halves((32, 32)), image_format), NotAnImage, 415)


@pytest.mark.parametrize("svg", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
    b'\xef\xbb\xbf  <?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
])
def test_svg_and_other_markup_is_refused_and_said_to_be_refused_for_its_scripts(svg: bytes) -> None:
    assert "SVG" in _refused(svg, NotAnImage, 415)


def test_a_50_mb_upload_is_refused_for_its_size_before_it_is_read() -> None:
    fifty_megabytes = _png_claiming(100, 100) + b"\0" * (50 * 1024 * 1024)
    assert _refused(fifty_megabytes, ImageTooLarge, 413) == "the image is 50.0 MB; at most 10.0 MB is accepted"


def test_a_decompression_bomb_is_refused_from_its_header_before_its_pixels_are_decoded() -> None:
    # 8000 x 8000 (64 MP): under Pillow's own guard, over ours. Its pixel data is broken, so decoding it would
    # have answered 422: the 413 shows the header alone decided.
    assert "8000x8000" in _refused(_png_claiming(8000, 8000), ImageTooLarge, 413)
    # 30000 x 30000 (900 MP): Pillow refuses it while reading the header.
    _refused(_png_claiming(30_000, 30_000), ImageTooLarge, 413)


def test_a_real_bomb_a_small_file_of_many_pixels_is_refused() -> None:
    bomb = _encoded(Image.new("1", (7000, 7000)), "PNG")  # 49 MP of white, 10 KB of PNG
    assert len(bomb) < 100_000
    _refused(bomb, ImageTooLarge, 413)


def test_the_pixel_limit_is_each_calls_own_and_pillows_global_is_left_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    image = _encoded(_halves((2000, 1000)), "PNG")
    _refused(image, ImageTooLarge, 413, ImageLimits(max_pixels=1_000_000))
    assert prepare_image(image).width == 1600
    assert before == Image.MAX_IMAGE_PIXELS


def test_a_damaged_image_is_refused_as_unprocessable() -> None:
    whole = _encoded(_halves((800, 600)), "JPEG", quality=95)
    assert "damaged" in _refused(whole[: len(whole) * 6 // 10], DamagedImage, 422)


# --- accepted -------------------------------------------------------------------------
def test_an_accepted_image_is_a_webp_named_by_its_hash_and_size() -> None:
    prepared = prepare_image(_encoded(_halves((400, 300)), "PNG"))
    assert (prepared.width, prepared.height, prepared.content_type) == (400, 300, "image/webp")
    assert prepared.name == f"{hashlib.sha256(prepared.data).hexdigest()}-400x300.webp"
    with Image.open(io.BytesIO(prepared.data)) as stored:
        assert (stored.format, stored.size) == ("WEBP", (400, 300))


def test_the_same_upload_gets_the_same_name() -> None:
    upload = _encoded(_halves((120, 80)), "JPEG")
    assert prepare_image(upload).name == prepare_image(upload).name


def test_a_photo_is_turned_upright_by_its_exif_orientation_then_every_piece_of_metadata_is_dropped() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored on its side: shown turned a quarter clockwise
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Artist] = "Secret Person"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (37.0, 33.0, 5.0)})
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = _encoded(_halves((400, 200)), "JPEG", quality=95, exif=exif.tobytes(), icc_profile=srgb,
                      comment=b"secret comment", xmp=b"<x:xmpmeta>secret xmp</x:xmpmeta>")
    assert b"SecretCam" in upload and b"secret xmp" in upload

    prepared = prepare_image(upload)

    assert (prepared.width, prepared.height) == (200, 400)
    with Image.open(io.BytesIO(prepared.data)) as stored:
        stored.load()
        # Turned a quarter clockwise, the left (red) half is now on top.
        assert _near(stored.convert("RGB").getpixel((100, 80)), RED)
        assert _near(stored.convert("RGB").getpixel((100, 320)), BLUE)
        assert not stored.getexif() and not {"exif", "icc_profile", "xmp", "comment"} & stored.info.keys()
    for secret in (b"SecretCam", b"Secret Person", b"secret", b"Exif", b"XMP", b"ICCP"):
        assert secret not in prepared.data


def test_text_chunks_of_a_png_are_dropped() -> None:
    info = PngInfo()
    info.add_text("Comment", "secret-png-text")
    assert b"secret-png-text" not in prepare_image(_encoded(_halves((64, 64)), "PNG", pnginfo=info)).data


def _near(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(got) - want) <= 24 for got, want in zip(pixel, colour, strict=True))


def test_a_wide_image_is_resized_to_the_maximum_width_keeping_its_proportions() -> None:
    prepared = prepare_image(_encoded(_halves((3200, 1000)), "PNG"))
    assert (prepared.width, prepared.height) == (1600, 500)
    assert prepare_image(_encoded(_halves((3200, 1000)), "JPEG"), ImageLimits(max_width=800)).width == 800


def test_a_small_image_is_never_enlarged() -> None:
    prepared = prepare_image(_encoded(_halves((300, 200)), "JPEG"))
    assert (prepared.width, prepared.height) == (300, 200)


def test_transparency_is_kept() -> None:
    image = _halves((64, 64), "RGBA")
    image.putpixel((0, 0), (0, 0, 0, 0))
    with Image.open(io.BytesIO(prepare_image(_encoded(image, "PNG")).data)) as stored:
        assert stored.mode == "RGBA" and stored.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_an_animated_gif_keeps_its_first_frame_as_a_still_webp() -> None:
    frames = [Image.new("RGB", (80, 60), colour) for colour in (RED, BLUE, (20, 200, 20))]
    upload = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(prepare_image(upload).data)) as stored:
        assert not getattr(stored, "is_animated", False)
        assert _near(stored.convert("RGB").getpixel((40, 30)), RED)


def test_a_cmyk_jpeg_is_stored_as_rgb() -> None:
    prepared = prepare_image(_encoded(Image.new("CMYK", (50, 50), (0, 255, 255, 0)), "JPEG"))
    with Image.open(io.BytesIO(prepared.data)) as stored:
        assert stored.mode == "RGB" and _near(stored.getpixel((25, 25)), (255, 0, 0))


# --- stored only when accepted ------------------------------------------------------------
async def test_nothing_is_stored_for_a_refused_upload(tmp_path: Path) -> None:
    storage = DiskStorage(tmp_path / "media")
    for refused in (b"not an image", _png_claiming(8000, 8000), b"<svg><script>alert(1)</script></svg>",
                    b"\0" * (11 * 1024 * 1024)):
        with pytest.raises(ImageRefused):
            await store_image(refused, storage)
    assert not (tmp_path / "media").exists() or not list((tmp_path / "media").iterdir())
    prepared = await store_image(_encoded(_halves((64, 48)), "PNG"), storage)
    assert [path.name for path in (tmp_path / "media").iterdir()] == [prepared.name]
