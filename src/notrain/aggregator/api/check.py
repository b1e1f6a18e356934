"""``/v1/check``: may this URL, file, image or caption be used for these purposes?

``GET /v1/check?url=...`` (or ``sha256=``, ``pdq=`` with ``quality=``, ``text=``; ``purpose=`` repeated,
every category when absent) answers one item; ``POST /v1/check`` with ``{"items": [...], "purposes":
[...]}`` answers up to 10,000 at once, in order.  Hashes are lowercase hex.  Each answer is the
``decide()`` of the statements the query index finds (:mod:`..query`), per purpose, citing the manifests.

A batch is never refused for one bad item: an item that cannot be answered (malformed, or a PDQ hash
whose quality is below 50, spec/matching.md) gets ``{"error": {...}}`` in its place, with its code.
What makes the whole request unreadable (no JSON, too many items, an unknown purpose) is a 400.
"""

from __future__ import annotations

import json

from aiohttp import web

from ...core import ijson
from ...core.errors import NotrainError
from ...core.vocab import CATEGORIES
from ..query import MAX_ITEMS, CheckError, CheckItem, check_purposes
from ..state import SERVICE
from .errors import ApiError

MAX_BODY_BYTES = 8 * 1024 * 1024  # 10,000 items of ~800 bytes; the app's own limit is for envelopes
_ITEM_MEMBERS = {"url", "sha256", "pdq", "quality", "text"}


async def check_one(request: web.Request) -> web.Response:
    query = request.query
    unknown = set(query) - _ITEM_MEMBERS - {"purpose"}
    if unknown:
        raise ApiError(f"unknown parameter {min(unknown)!r}", where=min(unknown))
    doc: dict[str, object] = {}
    for name in _ITEM_MEMBERS & set(query):
        values = query.getall(name)
        if len(values) != 1:
            raise ApiError(f"{name} is given once", where=name)
        doc[name] = _int(values[0]) if name == "quality" else values[0]
    purposes = check_purposes(query.getall("purpose")) if "purpose" in query else CATEGORIES
    (answer,) = await request.app[SERVICE].query.check([_item(doc)], purposes)
    if "error" in answer:
        raise CheckError(answer["error"]["message"], code=answer["error"]["code"], where=answer["error"]["where"])
    return web.json_response(answer)


async def check_many(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        raise ApiError("send the items as application/json", code="E_MEDIA_TYPE", where="Content-Type")
    body = await _read(request)
    try:
        doc = ijson.loads(body, max_size=MAX_BODY_BYTES, max_depth=4, what="check request")
    except NotrainError as error:
        raise ApiError(f"the body is not strict JSON: {error.message}", where=error.where) from None
    if not isinstance(doc, dict) or set(doc) - {"items", "purposes"} or not isinstance(doc.get("items"), list):
        raise ApiError('the body is {"items": [...], "purposes": [...]}', where="/")
    if len(doc["items"]) > MAX_ITEMS:
        raise ApiError(f"at most {MAX_ITEMS} items per request", where="/items")
    purposes = doc.get("purposes", list(CATEGORIES))
    if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
        raise ApiError("purposes is an array of category names", where="/purposes")
    purposes = check_purposes(purposes)
    items: list[CheckItem] = []
    refused: dict[int, dict] = {}
    for index, member in enumerate(doc["items"]):
        try:
            if not isinstance(member, dict):
                raise CheckError("an item is an object", where="item")
            items.append(_item(member))
        except NotrainError as error:
            refused[index] = {"error": {**error.to_json(), "where": f"/items/{index}/{error.where}"}}
    answers = iter(await request.app[SERVICE].query.check(items, purposes))
    results = [refused[i] if i in refused else next(answers) for i in range(len(doc["items"]))]
    return web.Response(text=encode_results(purposes, results), content_type="application/json")


def encode_results(purposes: tuple[str, ...], results: list[dict]) -> str:
    """``json.dumps({"purposes": ..., "results": ...})``, byte for byte, with each distinct answer encoded
    once: the query index shares one answer object between the items it decided alike (most of a batch),
    so a batch of 10,000 encodes a handful of objects instead of 10,000 (``results`` keeps them alive, so
    their ids stay theirs).  A batch of mostly distinct answers (URLs of many listed origins) is encoded in
    one call, which costs less than a call per answer."""
    distinct = {id(result): result for result in results}
    if len(distinct) * 2 > len(results):
        return json.dumps({"purposes": list(purposes), "results": results})
    encoded = {key: json.dumps(result) for key, result in distinct.items()}
    texts = ", ".join([encoded[id(result)] for result in results])
    return f'{{"purposes": {json.dumps(list(purposes))}, "results": [{texts}]}}'


def _item(doc: dict) -> CheckItem:
    if len(doc) == 1 and type(doc.get("url")) is str:  # the common item of a big batch
        return CheckItem.of_url(doc["url"])
    unknown = set(doc) - _ITEM_MEMBERS
    if unknown:
        raise CheckError(f"unknown member {min(unknown)!r}", where=min(unknown))
    for name in ("url", "text", "sha256", "pdq"):
        if name in doc and not isinstance(doc[name], str):
            raise CheckError(f"{name} is a string", where=name)
    if "quality" in doc and "pdq" not in doc:
        raise CheckError("quality goes with pdq", where="quality")
    return CheckItem(
        url=doc.get("url"),
        text=doc.get("text"),
        sha256=_hex(doc, "sha256"),
        pdq=_hex(doc, "pdq"),
        quality=doc.get("quality", 100),
    )


def _hex(doc: dict, name: str) -> bytes | None:
    value = doc.get(name)
    if value is None:
        return None
    if len(value) != 64 or value.strip("0123456789abcdef"):
        raise CheckError(f"{name} is 64 lowercase hexadecimal digits", where=name)
    return bytes.fromhex(value)


def _int(value: str) -> int | str:
    """A query parameter's integer, or the string itself for the item check to refuse."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 3 else value


async def _read(request: web.Request) -> bytes:
    """The body, up to MAX_BODY_BYTES (larger than the app's limit, which is for envelopes)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(f"a check request is at most {MAX_BODY_BYTES} octets", code="E_SIZE", where="body")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(f"a check request is at most {MAX_BODY_BYTES} octets", code="E_SIZE", where="body")
    return bytes(body)


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/check", check_one)
    app.router.add_post("/v1/check", check_many)
