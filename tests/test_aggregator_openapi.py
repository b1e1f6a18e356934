"""The OpenAPI 3.1 document (src/notrain/aggregator/api/openapi.json) against the real service.

openapi-core (python-openapi) checks that the document is valid OpenAPI 3.1, then every request this test
sends and every answer the real server gives (status, media type, headers, body against the schemas).
Every operation of the document must have been exercised, and the document must list exactly the /v1,
/log, /snapshot and /witness routes the application registers (a witness's with one configured), so neither
can drift from the other.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from importlib import resources

import pytest
from aggregator_helpers import ENVELOPE_TYPE, aggregator_config, did_manifest, integrated, running
from conftest import make_key
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from test_aggregator_check import REPOST, WORK
from test_aggregator_parts import encoded_form, part_document, reference, sha
from test_aggregator_receipts import filtered_receipt
from test_witness import LOG, ORIGIN, request

from notrain import imaging
from notrain.aggregator.app import create_app
from notrain.core.filterreceipt import RECEIPT_TYPE

DOCUMENT = json.loads(resources.files("notrain.aggregator.api").joinpath("openapi.json").read_text())
# /log/ and /witness/ are C2SP protocols, served like the rest; the web page's routes (/, /search...) are HTML for people.
API_PREFIXES = ("/v1/", "/log/", "/snapshot/", "/witness/")


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    """Raises unless the document is valid OpenAPI 3.1.  An envelope's media type is JSON by its +json suffix; a
    witness's 409 (text/x.tlog.size) is text."""
    deserializers = {ENVELOPE_TYPE: json.loads, RECEIPT_TYPE: json.loads, "text/x.tlog.size": lambda data: data.decode("ascii")}
    config = Config(extra_media_type_deserializers=deserializers)
    return OpenAPI.from_dict(DOCUMENT, config=config)


class Validated:
    """Sends requests through a client session and validates both sides against the document."""

    def __init__(self, session, openapi: OpenAPI) -> None:
        self.session, self.openapi = session, openapi
        self.seen: set[tuple[str, str, int]] = set()

    async def __call__(self, method: str, template: str, *, params=(), body: bytes | None = None,
                       content_type: str = "application/json", **path_args) -> tuple[int, bytes]:
        path = template.format(**path_args)
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self.session.request(method, path, params=list(params), data=body, headers=headers) as response:
            data, status = await response.read(), response.status
            answer = MockResponse(data, status, headers=dict(response.headers), content_type=response.content_type)
        request = MockRequest("http://127.0.0.1", method.lower(), path, path_pattern=template, args=list(params),
                              view_args=path_args, data=body, content_type=content_type if body is not None else "application/json")
        if status < 400:  # a request the server refuses is one the document may refuse too
            self.openapi.validate_request(request)
        self.openapi.validate_response(request, answer)
        self.seen.add((template, method.lower(), status))
        return status, data


def operations() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}


def test_the_document_lists_exactly_the_api_routes_of_the_application(tmp_path):
    app = create_app(aggregator_config(tmp_path, witness={"logs": [LOG.verifier.to_vkey()]}))
    routes = {(r.resource.canonical, r.method.lower()) for r in app.router.routes()
              if r.method != "HEAD" and r.resource.canonical.startswith(API_PREFIXES)}
    assert routes == operations()


async def test_real_answers_of_every_operation_match_the_document(tmp_path, openapi):
    async with running(aggregator_config(tmp_path, snapshots={"interval": 0.05}, witness={"logs": [LOG.verifier.to_vkey()]})) as session:
        call = Validated(session, openapi)
        assert (await call("GET", "/witness/vkey"))[0] == 200
        assert (await call("POST", "/witness/add-checkpoint", body=request(0, 4), content_type="text/plain"))[0] == 200
        assert (await call("POST", "/witness/add-checkpoint", body=request(0, 4), content_type="text/plain"))[1] == b"4\n"  # a 409
        assert (await call("POST", "/witness/add-checkpoint", body=b"old 4\n", content_type="text/plain"))[0] == 400
        assert (await call("GET", "/witness/{origin_sha256}/checkpoint", origin_sha256=hashlib.sha256(ORIGIN.encode()).hexdigest()))[0] == 200
        assert (await call("GET", "/witness/{origin_sha256}/checkpoint", origin_sha256="0" * 64))[0] == 404
        artist = make_key("artist")
        envelope = did_manifest(artist, pdq={"hasher": imaging.HASHER}, names=[{"name": "Ada Example"}],
                                works=[{"sha256": WORK.sha256.hex(), "pdq": WORK.pdq.hex()}])
        await call("GET", "/v1/openapi.json")
        await call("GET", "/v1/log")
        status, body = await call("POST", "/v1/manifests", body=envelope, content_type=ENVELOPE_TYPE)
        assert status == 202
        entry = json.loads(body)["entry"]
        assert (await call("POST", "/v1/manifests", body=envelope, content_type=ENVELOPE_TYPE))[0] == 200
        assert (await call("POST", "/v1/manifests", body=b"{}", content_type=ENVELOPE_TYPE))[0] == 422
        assert (await call("POST", "/v1/manifests", body=envelope, content_type="text/plain"))[0] == 415
        cataloguer = make_key("parts artist")  # a manifest with a part, sent as a form (test_aggregator_parts.py)
        part = part_document(cataloguer.public.did_key, [sha("a sketch")])
        data, form_type = await encoded_form(did_manifest(cataloguer, parts=[reference(part)]), [part])
        assert json.loads((await call("POST", "/v1/manifests", body=data, content_type=form_type))[1])["parts"]
        assert (await call("GET", "/v1/parts/{sha256}", sha256=sha(part)))[1] == part
        assert (await call("GET", "/v1/parts/{sha256}", sha256="0" * 64))[0] == 404
        assert (await call("GET", "/v1/parts/{sha256}", sha256="0"))[0] == 400
        assert (await call("POST", "/v1/origins", body=b'{"origin": "http://127.0.0.1:9"}'))[0] == 202
        assert (await call("POST", "/v1/origins", body=b'{"origin": "https://A.example/"}'))[0] == 400
        twin = did_manifest(artist, names=[{"name": "Someone Else"}])  # same sequence, other bytes
        assert (await call("POST", "/v1/manifests", body=twin, content_type=ENVELOPE_TYPE))[0] == 202
        await call("GET", "/v1/entries/{id}", id=str(entry))
        (tmp_path / "receipt").mkdir()
        receipt = filtered_receipt(tmp_path / "receipt")
        status, body = await call("POST", "/v1/receipts", body=receipt, content_type=RECEIPT_TYPE)
        assert status == 202
        receipt_entry, receipt_sha256 = json.loads(body)["entry"], json.loads(body)["sha256"]
        assert (await call("POST", "/v1/receipts", body=receipt))[0] == 200
        assert (await call("POST", "/v1/receipts", body=envelope, content_type=RECEIPT_TYPE))[0] == 422  # a manifest is no receipt
        assert (await call("POST", "/v1/receipts", body=receipt, content_type="text/plain"))[0] == 415
        await call("GET", "/v1/receipts/{sha256}", sha256=receipt_sha256)
        await integrated(session, receipt_entry)
        assert (await call("GET", "/v1/receipts/{sha256}", sha256=receipt_sha256))[0] == 200
        assert (await call("GET", "/v1/receipts/{sha256}", sha256="0" * 64))[0] == 404
        assert (await call("GET", "/v1/receipts/{sha256}", sha256="0"))[0] == 400
        await integrated(session, entry + 1)
        assert (await call("GET", "/v1/entries/{id}", id=str(entry)))[0] == 200
        assert (await call("GET", "/v1/entries/{id}", id="999"))[0] == 404
        status, note = await call("GET", "/log/checkpoint")
        size = int(note.split(b"\n")[1])
        await call("GET", "/log/tile/{path}", path=f"0/000.p/{size}")
        await call("GET", "/log/tile/{path}", path=f"entries/000.p/{size}")
        assert (await call("GET", "/log/tile/{path}", path="0/x001/000"))[0] == 404
        assert (await call("GET", "/log/body/{sha256}", sha256="0" * 64))[0] == 404  # served: test_aggregator_bodies.py
        assert (await call("GET", "/v1/proof/inclusion", params=[("index", "0")]))[0] == 200
        assert (await call("GET", "/v1/proof/inclusion", params=[("index", "0"), ("size", "0")]))[0] == 400
        assert (await call("GET", "/v1/proof/consistency", params=[("from", "1"), ("size", str(size))]))[0] == 200
        assert json.loads((await call("GET", "/v1/publishers", params=[("prefix", "did:key:")]))[1])["publishers"]
        assert json.loads((await call("GET", "/v1/publishers"))[1])["next"] is None
        assert json.loads((await call("GET", "/v1/publishers", params=[("after", artist.public.did_key)]))[1])["publishers"] == []
        assert (await call("GET", "/v1/publisher", params=[("id", artist.public.did_key)]))[0] == 200
        assert (await call("GET", "/v1/publisher", params=[("id", "did:key:nobody")]))[0] == 404
        assert (await call("GET", "/v1/publisher/envelope", params=[("id", artist.public.did_key)]))[1] == envelope
        assert (await call("GET", "/v1/publisher/envelope", params=[("id", "https://nobody.example")]))[0] == 404
        assert json.loads((await call("GET", "/v1/equivocations"))[1])["equivocations"]
        assert json.loads((await call("GET", "/v1/peers"))[1])["peers"] == []  # non-empty answers: test_aggregator_federation.py
        assert json.loads((await call("GET", "/v1/evidence"))[1])["forks"] == []
        params = [("pdq", REPOST.pdq.hex()), ("quality", str(REPOST.quality)), ("purpose", "train-ai"), ("purpose", "search")]
        assert json.loads((await call("GET", "/v1/check", params=params))[1])["decision"]["train-ai"]["state"] == "disallowed"
        assert (await call("GET", "/v1/check", params=[("url", "https://a.example/")]))[0] == 200
        assert (await call("GET", "/v1/check", params=[("pdq", REPOST.pdq.hex()), ("quality", "10")]))[0] == 422
        assert (await call("GET", "/v1/check", params=[("purpose", "train-ai")]))[0] == 400
        items = [{"text": "by Ada Example"}, {"sha256": "nope"}, {"url": "https://a.example/x"}, {"pdq": REPOST.pdq.hex(), "quality": 3}]
        status, body = await call("POST", "/v1/check", body=json.dumps({"items": items, "purposes": ["train-ai"]}).encode())
        assert status == 200 and [next(iter(r)) for r in json.loads(body)["results"]] == ["decision", "error", "decision", "error"]
        assert (await call("POST", "/v1/check", body=b"[]", content_type="text/plain"))[0] == 415
        assert (await call("POST", "/v1/check", body=b"{}"))[0] == 400
        for _ in range(600):  # built by the timer (test_aggregator_snapshots.py); the 404 answer is validated too
            if (await call("GET", "/v1/snapshot"))[0] == 200:
                break
            await asyncio.sleep(0.05)
        snapshot = json.loads((await call("GET", "/v1/snapshot"))[1])
        assert (await call("GET", "/snapshot/latest"))[0] == 200
        assert (await call("GET", "/snapshot/{id}/{name}", id=snapshot["id"], name="descriptor"))[0] == 200
        assert (await call("GET", "/snapshot/{id}/{name}", id=snapshot["id"], name="works"))[0] == 200
        assert (await call("GET", "/snapshot/{id}/{name}", id="0" * 64, name="pdq"))[0] == 404
        assert (await call("GET", "/snapshot/{id}/delta/{previous}", id=snapshot["id"], previous="0" * 64))[0] == 404  # 200: test_aggregator_snapshots.py
    assert {(path, method) for path, method, _ in call.seen} == operations()
