"""notrain.imaging on real images drawn with Pillow."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pdqhash
import pytest
from pictures import encode, picture, png_claiming_size
from PIL import Image, ImageDraw

from notrain import imaging
from notrain.core.works import hamming


def pdq_of(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    return imaging.hash_bytes(encode(image, fmt, **options)).pdq


def test_sha256_is_of_the_exact_file_bytes():
    data = encode(picture(1))
    hashed = imaging.hash_bytes(data)
    assert hashed.sha256 == hashlib.sha256(data).digest()
    assert len(hashed.pdq) == 32
    assert hashed.quality == 100 and hashed.reliable


def test_pdq_bits_are_packed_msb_first_in_pdqhash_order():
    image = picture(2)
    bits, _ = pdqhash.compute(np.asarray(image))
    expected = int("".join(str(int(bit)) for bit in bits), 2).to_bytes(32, "big")
    assert pdq_of(image) == expected


def test_hash_file_matches_hash_bytes(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(encode(picture(3)))
    assert imaging.hash_file(path) == imaging.hash_bytes(path.read_bytes())


def test_resized_recompressed_copy_is_near_and_unrelated_image_is_far():
    original = picture(4)
    repost = original.resize((200, 150), Image.Resampling.LANCZOS)
    near = hamming(pdq_of(original), pdq_of(repost, "JPEG", quality=60))
    far = hamming(pdq_of(original), pdq_of(picture(5)))
    assert near <= 31
    assert far > 64


def test_exif_orientation_is_applied():
    upright = picture(6, (240, 320))
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise, i.e. upright again
    tagged = pdq_of(stored_sideways, "JPEG", quality=95, exif=exif)
    assert hamming(tagged, pdq_of(upright, "JPEG", quality=95)) <= 8
    assert hamming(tagged, pdq_of(stored_sideways, "JPEG", quality=95)) > 64


def test_transparency_is_composited_on_white():
    on_white = Image.new("RGB", (320, 240), "white")
    on_clear = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    for image, fill in ((on_white, (200, 30, 60)), (on_clear, (200, 30, 60, 255))):
        draw = ImageDraw.Draw(image)
        draw.ellipse((40, 30, 200, 190), fill=fill)
        draw.rectangle((150, 100, 300, 220), fill=fill)
    assert pdq_of(on_clear) == pdq_of(on_white)


def test_animation_is_hashed_by_its_first_frame():
    first, second = picture(7), picture(8)
    gif = encode(first, "GIF", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(gif)) as decoded:
        first_frame = decoded.convert("RGB")
    assert imaging.hash_bytes(gif).pdq == pdq_of(first_frame)
    assert hamming(imaging.hash_bytes(gif).pdq, pdq_of(second)) > 64


def test_flat_image_has_low_quality():
    hashed = imaging.hash_bytes(encode(Image.new("RGB", (100, 100), (90, 90, 90))))
    assert hashed.quality < imaging.MIN_QUALITY and not hashed.reliable


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"just some text\n", id="not-an-image"),
        pytest.param(encode(picture(9))[:400], id="truncated-png"),
        pytest.param(encode(picture(9), "JPEG")[:600], id="truncated-jpeg"),
        pytest.param(png_claiming_size(10_000, 10_000), id="bomb-over-our-limit"),
        pytest.param(png_claiming_size(20_000, 20_000), id="bomb-over-pillow-limit"),
        pytest.param(b"", id="empty"),
    ],
)
def test_undecodable_input_raises_image_error(data):
    with pytest.raises(imaging.ImageError) as caught:
        imaging.hash_bytes(data)
    assert caught.value.code == "E_IMAGE"


def test_bomb_is_refused_before_decoding():
    with pytest.raises(imaging.ImageError, match="pixels"):
        imaging.hash_bytes(png_claiming_size(10_000, 10_000))


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(encode(picture(10)))
    monkeypatch.setattr(imaging, "MAX_IMAGE_BYTES", 1000)
    with pytest.raises(imaging.ImageError, match="larger") as caught:
        imaging.hash_file(path)
    assert caught.value.where == str(path)
    with pytest.raises(imaging.ImageError, match="larger"):
        imaging.hash_bytes(path.read_bytes())


def test_hasher_names_the_pdqhash_version():
    major_minor = ".".join(pdqhash.__version__.split(".")[:2])
    assert imaging.HASHER == f"pdqhash-{major_minor}/pillow"
