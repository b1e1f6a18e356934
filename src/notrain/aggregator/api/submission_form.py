"""``POST /v1/manifests`` as ``multipart/form-data``: a signed envelope uploaded with its parts.

A publisher without a site (a ``did:key``) has nowhere else to put a catalogue's parts, and the aggregator
never follows part URLs to hosts the publisher chose, so the parts travel with the envelope.  A form,
rather than JSON with base64 inside, keeps 64 MiB of parts binary and lets ``curl -F`` send it:

    curl -F envelope=@signed.json -F part=@part-1.json -F part=@part-2.json https://aggregator.example/v1/manifests

The form is one field ``envelope`` (the envelope's exact bytes), then one field ``part`` per part
reference of its manifest, in the manifest's order (matched to the references by core: a part whose size
or SHA-256 is not its reference's is ``E_PART_DIGEST``).  Every field is read in bounded chunks: the
envelope up to its limit, each part up to 8 MiB and all parts up to 64 MiB together, past which reading
stops (``E_SIZE``).  The form is read from the request's stream, so ``server.max_body_bytes`` (the bound of
a plain envelope) does not cap it; these limits do.
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ...core import dsse
from ...core.errors import PolicyError
from ...core.manifest import MAX_PART_BYTES, MAX_PARTS
from ...fetch.manifests import MAX_CATALOGUE_BYTES
from .errors import ApiError

FORM_MEDIA_TYPE = "multipart/form-data"
CHUNK = 64 * 1024


async def read_submission_form(request: web.Request) -> tuple[bytes, list[bytes]]:
    """The envelope and the parts of a submission form, in order; ``E_REQUEST`` for another shape, or for
    a body aiohttp's reader cannot frame (no boundary, a truncated or bad part header)."""
    try:
        return await _read_form(request)
    except (ValueError, HttpProcessingError) as error:
        raise ApiError(f"not a multipart/form-data body: {error}"[:300], where="form") from None


async def _read_form(request: web.Request) -> tuple[bytes, list[bytes]]:
    reader = await request.multipart()
    envelope: bytes | None = None
    parts: list[bytes] = []
    room = MAX_CATALOGUE_BYTES
    while (field := await reader.next()) is not None:
        if not isinstance(field, BodyPartReader):
            raise ApiError("a submission form has no nested forms", where="form")
        if field.name == "envelope" and envelope is None:
            envelope = await _read(field, dsse.MAX_ENVELOPE_BYTES, "envelope")
        elif field.name == "part" and envelope is not None and len(parts) < MAX_PARTS:
            parts.append(await _read(field, min(MAX_PART_BYTES, room), f"/parts/{len(parts)}"))
            room -= len(parts[-1])
        else:
            raise ApiError(f"a submission form is one field 'envelope', then at most {MAX_PARTS} fields 'part'", where=field.name or "form")
    if envelope is None:
        raise ApiError("the form has no field 'envelope'", where="envelope")
    return envelope, parts


async def _read(field: BodyPartReader, limit: int, where: str) -> bytes:
    data = bytearray()
    while chunk := await field.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise PolicyError(f"{where} is over the {limit} octets left for it", code="E_SIZE", where=where)
    return bytes(data)
