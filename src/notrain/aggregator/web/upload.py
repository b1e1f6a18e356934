"""An image uploaded to the check form: read within limits, hashed in a worker thread, never stored.

Hashing is the one expensive thing a visitor can ask for, so it is bounded three ways.  Size: at most
:data:`MAX_UPLOAD_BYTES` of file and :data:`MAX_PIXELS` pixels (checked from the image header before any
pixel is decoded; PDQ's float buffers cost tens of bytes per pixel).  Concurrency: one image is hashed at
a time and at most :data:`MAX_WAITING` more uploads wait, each holding at most one file, so memory stays
near one hash of the largest admitted image whatever the traffic; beyond that the visitor is told to
retry.  Time: the body must arrive within :data:`READ_SECONDS`.  The bytes live in memory only, for the
length of the request.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import asynccontextmanager

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from PIL import Image, UnidentifiedImageError

from ... import imaging

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 16_000_000  # a 16-megapixel phone photo; imaging's own ceiling (40 MP) is for local files
MAX_WAITING = 4
READ_SECONDS = 30.0
FIELD = "image"


class UploadError(Exception):
    """The upload cannot be checked; ``status`` and the message are shown to the visitor."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ImageHasher:
    """One hash at a time, a short queue, and a clear "busy" beyond it."""

    def __init__(self, waiting: int = MAX_WAITING) -> None:
        self._running = asyncio.Semaphore(1)
        self._admitted = 0
        self._most = 1 + waiting

    @asynccontextmanager
    async def slot(self):
        """Admission for one upload, taken before its body is read."""
        if self._admitted >= self._most:
            raise UploadError(503, "Too many images are being checked right now; try again in a minute.")
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def hash(self, data: bytes) -> imaging.ImageHash:
        async with self._running:
            return await asyncio.to_thread(hash_upload, data)


def hash_upload(data: bytes) -> imaging.ImageHash:
    """SHA-256 and PDQ of an uploaded image, refusing more than :data:`MAX_PIXELS` before decoding."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except UnidentifiedImageError:
        raise UploadError(422, "This file is not an image (PNG, JPEG, GIF, WebP…) that can be read.") from None
    except Image.DecompressionBombError:  # Pillow's own ceiling, far above ours: the same answer
        raise UploadError(413, f"This image has more than {MAX_PIXELS // 1_000_000} megapixels; that many are not checked here.") from None
    except Exception as exc:  # noqa: BLE001 -- Pillow's header parsers raise many types on hostile input
        raise UploadError(422, f"This image cannot be read ({type(exc).__name__}).") from None
    if width * height > MAX_PIXELS:
        raise UploadError(413, f"This image is {width}×{height}: at most {MAX_PIXELS // 1_000_000} megapixels are checked here.")
    try:
        return imaging.hash_bytes(data)
    except imaging.ImageError as error:
        raise UploadError(422, f"This image cannot be read: {error.message}.") from None


async def read_image(request: web.Request) -> bytes:
    """The bytes of the form's ``image`` file, at most :data:`MAX_UPLOAD_BYTES`."""
    if not request.content_type.startswith("multipart/"):
        raise UploadError(400, "Send the image from the form (multipart/form-data).")
    try:
        async with asyncio.timeout(READ_SECONDS):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and part.name == FIELD:
                    return await _read_part(part)
                await part.release()
    except TimeoutError:
        raise UploadError(408, "The upload took too long.") from None
    except (ValueError, HttpProcessingError):  # aiohttp's multipart parser on a malformed body
        raise UploadError(400, "Send the image from the form (multipart/form-data).") from None
    raise UploadError(400, "Choose an image file to check.")


async def _read_part(part: BodyPartReader) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadError(413, f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB.")
    if not data:
        raise UploadError(400, "Choose an image file to check (the file sent was empty).")
    return bytes(data)
