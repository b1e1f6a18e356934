"""Hashing image files the way notrain manifests record them: SHA-256 and PDQ.

SHA-256 covers the exact file bytes, so it finds byte-identical copies.  PDQ
(Meta's perceptual hash, computed by the ``pdqhash`` package) survives
resizing, recompression and metadata stripping, so it finds reposts.  The
image is decoded with Pillow into what a viewer shows: EXIF orientation
applied, transparency composited on white, the first frame of an animation.

Bits are packed most-significant-bit first in the order ``pdqhash.compute``
returns them.  That order is Meta's own hex spelling of a PDQ hash (the
reference implementation prints the 16-bit words from the highest down), so
the 32 bytes written into manifests read the same as hashes from Meta's tools
and ThreatExchange.

PDQ reports a quality from 0 to 100; below 50 the image is too flat for its
hash to be distinctive (Meta's guidance, and ``notrain.core.works`` refuses to
match such queries), so callers should record only the SHA-256 for it.

Decoding untrusted files is guarded: at most :data:`MAX_IMAGE_BYTES` of input
and :data:`MAX_PIXELS` pixels (checked from the header, before any pixel is
decoded), and every decoding failure becomes an :class:`ImageError`.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image, ImageOps, UnidentifiedImageError

from .core.errors import NotrainError
from .core.works import MIN_QUERY_QUALITY

MAX_IMAGE_BYTES = 64 * 1024 * 1024
# pdqhash converts to float64 luma internally (tens of bytes per pixel at its
# peak), so 40 megapixels keeps one image under about 2 GB of memory.
MAX_PIXELS = 40_000_000
MIN_QUALITY = MIN_QUERY_QUALITY
HASHER = "pdqhash-{}/pillow".format(".".join(pdqhash.__version__.split(".")[:2]))
_WHITE = (255, 255, 255, 255)


class ImageError(NotrainError):
    """The file is not an image notrain can decode within its limits."""

    code = "E_IMAGE"


@dataclass(frozen=True)
class ImageHash:
    sha256: bytes
    pdq: bytes  # 32 bytes, Meta's bit order
    quality: int  # PDQ quality, 0-100

    @property
    def reliable(self) -> bool:
        """Whether the PDQ hash is distinctive enough to publish and match."""
        return self.quality >= MIN_QUALITY


def hash_file(path: str | os.PathLike[str]) -> ImageHash:
    """Hash an image file, refusing files over :data:`MAX_IMAGE_BYTES` before reading them."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size > MAX_IMAGE_BYTES:
            raise ImageError(f"file is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB", where=os.fspath(path))
        data = file.read(MAX_IMAGE_BYTES + 1)
    try:
        return hash_bytes(data)
    except ImageError as exc:
        raise ImageError(exc.message, where=os.fspath(path)) from None


def hash_bytes(data: bytes) -> ImageHash:
    """SHA-256 of ``data`` and the PDQ hash of the image it encodes."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    bits, quality = pdqhash.compute(np.asarray(decode_rgb(data)))
    pdq = np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="big").tobytes()
    return ImageHash(hashlib.sha256(data).digest(), pdq, int(quality))


def decode_rgb(data: bytes) -> Image.Image:
    """Decode ``data`` to the RGB image a viewer would show."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _check_pixels(image)
                image.seek(0)
                upright = ImageOps.exif_transpose(image)
                return _flatten(upright)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image (Pillow does not recognise the format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"image has more than {MAX_PIXELS} pixels (decompression bomb?)") from None
    except Exception as exc:  # noqa: BLE001 -- Pillow's decoders raise many exception types on hostile input
        raise ImageError(f"cannot decode the image ({type(exc).__name__}: {exc})") from None


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"image is {width}x{height}, more than {MAX_PIXELS} pixels (decompression bomb?)")
    if width == 0 or height == 0:
        raise ImageError("image has no pixels")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB with any transparency composited on white (as most pages show it)."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")
    return image.convert("RGB")
