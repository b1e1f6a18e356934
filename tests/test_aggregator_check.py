"""The query API end to end on a real server (SQLite): /v1/check by URL, SHA-256, PDQ and caption, per purpose."""

from __future__ import annotations

import hashlib
import io
import json
import random
import threading
import tracemalloc

import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, origin_manifest, running, submit
from conftest import make_key
from PIL import Image
from postgres import PostgresCluster

from notrain import imaging
from notrain.aggregator import query as query_module
from notrain.aggregator.query import CheckError, CheckItem, Query
from notrain.core import dsse
from notrain.core.manifest import parse_payload


def painting() -> bytes:
    """A real image with enough structure for PDQ (quality well above 50)."""
    rng = random.Random(7)
    image = Image.new("RGB", (320, 240))
    pixels = image.load()
    blobs = [(rng.randrange(320), rng.randrange(240), rng.randrange(20, 90), tuple(rng.randrange(256) for _ in range(3))) for _ in range(25)]
    for x in range(320):
        for y in range(240):
            pixels[x, y] = next((c for cx, cy, r, c in blobs if (x - cx) ** 2 + (y - cy) ** 2 < r * r), (x * 255 // 320, y, 128))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def reposted(original: bytes) -> bytes:
    """Re-encoded smaller as a JPEG, as an image board does: other bytes, nearly the same PDQ hash."""
    out = io.BytesIO()
    Image.open(io.BytesIO(original)).convert("RGB").resize((200, 150)).save(out, "JPEG", quality=70)
    return out.getvalue()


ORIGINAL = painting()
WORK = imaging.hash_bytes(ORIGINAL)
REPOST = imaging.hash_bytes(reposted(ORIGINAL))


def artist_envelope(sequence: int = 1, name: str = "Ada Example") -> bytes:
    return did_manifest(
        make_key("artist"), sequence=sequence, default={"train-ai": "n", "search": "y"}, pdq={"hasher": imaging.HASHER},
        works=[{"sha256": WORK.sha256.hex(), "pdq": WORK.pdq.hex(), "title": "Blobs"}], names=[{"name": name}],
    )


@pytest.fixture
async def api(tmp_path):
    async with running(aggregator_config(tmp_path)) as session:
        yield session


async def check(api, **params) -> tuple[int, dict]:
    async with api.get("/v1/check", params=params) as response:
        return response.status, await response.json()


async def check_many(api, body) -> tuple[int, dict]:
    async with api.post("/v1/check", data=json.dumps(body), headers={"Content-Type": "application/json"}) as response:
        return response.status, await response.json()


def test_the_repost_is_a_real_near_duplicate():
    assert WORK.quality >= 50 and REPOST.quality >= 50 and WORK.sha256 != REPOST.sha256
    assert 0 < imaging_distance(WORK.pdq, REPOST.pdq) <= 31


def imaging_distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


async def test_works_and_names_are_answered_by_decide_with_evidence_from_the_log(api):
    status, body = await submit(api, artist_envelope())
    assert status == 202
    artist = make_key("artist").public.did_key
    status, answer = await check(api, pdq=REPOST.pdq.hex(), quality=str(REPOST.quality), purpose="train-ai")
    assert status == 200 and list(answer["decision"]) == ["train-ai"]
    train = answer["decision"]["train-ai"]
    assert train["state"] == "disallowed" and train["allowed"] is False
    (cited,) = train["because"]
    assert cited["publisher"] == artist and cited["sequence"] == 1 and cited["payload_sha256"] == body["payload_sha256"]
    assert cited["entry"] == body["entry"] and cited["rule"] == "/works/0" and cited["detail"].startswith("pdq distance")

    done = await integrated(api, body["entry"])
    _, answer = await check(api, sha256=WORK.sha256.hex())
    assert set(answer["decision"]) == {"train-ai", "ai-use", "search"}
    assert answer["decision"]["train-ai"]["because"][0]["log_index"] == done["log_index"]
    assert answer["decision"]["train-ai"]["because"][0]["detail"] == "sha256 match"
    assert answer["decision"]["search"]["state"] == "allowed" and answer["decision"]["ai-use"]["state"] == "unknown"

    _, answer = await check(api, text="fan art in the style of ada_example, 4k", purpose="train-ai")
    assert answer["decision"]["train-ai"]["state"] == "disallowed"
    _, answer = await check(api, text="a sunset by someone else", purpose="train-ai")
    assert answer["decision"]["train-ai"] == {"state": "unknown", "allowed": True, "because": []}


async def test_a_low_quality_pdq_hash_is_refused_with_its_code(api):
    await submit(api, artist_envelope())
    status, answer = await check(api, pdq=REPOST.pdq.hex(), quality="49")
    assert status == 422 and answer["error"]["code"] == "E_PDQ_QUALITY"
    status, answer = await check(api, pdq=REPOST.pdq.hex(), quality="50")
    assert status == 200 and answer["decision"]["train-ai"]["state"] == "disallowed"


async def test_url_rules_apply_to_their_own_origin_only(api, site):
    envelope = origin_manifest(site, make_key("site"), default={"train-ai": "y"},
                               paths=[{"pattern": "/private/", "prefs": {"train-ai": "n"}}])
    status, body = await submit(api, envelope)
    assert status == 202, body
    _, answer = await check(api, url=f"{site.origin}/private/a.png", purpose="train-ai")
    assert answer["decision"]["train-ai"]["state"] == "disallowed"
    pending = answer["decision"]["train-ai"]["because"][0]["log_index"]
    assert answer["decision"]["train-ai"]["because"][0]["rule"] == "/paths/0"
    _, answer = await check(api, url=f"{site.origin}/public/a.png", purpose="train-ai")
    assert answer["decision"]["train-ai"]["state"] == "allowed"
    done = await integrated(api, body["entry"])  # the same answer again now cites the log index
    _, answer = await check(api, url=f"{site.origin}/private/b.png", purpose="train-ai")
    assert pending is None or pending == done["log_index"]  # the sequencer may have been quick
    assert answer["decision"]["train-ai"]["because"][0]["log_index"] == done["log_index"] is not None
    _, answer = await check(api, url="https://elsewhere.example/private/a.png", purpose="train-ai")
    assert answer["decision"]["train-ai"]["state"] == "unknown"


async def test_a_batch_answers_in_order_and_refuses_bad_items_one_by_one(api):
    await submit(api, artist_envelope())
    items = [
        {"sha256": WORK.sha256.hex()},
        {"pdq": REPOST.pdq.hex(), "quality": 10},
        {"url": "https://nobody.example/"},
        {"sha256": "XYZ"},
        {"url": "https://a.example/", "text": "two at once"},
        "not an object",
        {"text": "by Ada Example"},
    ]
    status, body = await check_many(api, {"items": items, "purposes": ["train-ai"]})
    assert status == 200 and body["purposes"] == ["train-ai"] and len(body["results"]) == len(items)
    states = [r["decision"]["train-ai"]["state"] if "decision" in r else r["error"]["code"] for r in body["results"]]
    assert states == ["disallowed", "E_PDQ_QUALITY", "unknown", "E_REQUEST", "E_REQUEST", "E_REQUEST", "disallowed"]
    assert body["results"][3]["error"]["where"] == "/items/3/sha256"


async def test_what_makes_a_whole_request_unreadable_is_a_400(api):
    assert (await check_many(api, {"items": [{"url": "https://a.example/"}] * 10_001}))[0] == 400
    assert (await check_many(api, {"items": [], "purposes": ["training"]}))[0] == 400
    assert (await check_many(api, {"items": [], "extra": 1}))[0] == 400
    assert (await check(api, url="https://a.example/", purpose="nope"))[0] == 400
    assert (await check(api, url="https://a.example/", sha256=WORK.sha256.hex()))[0] == 400
    assert (await check(api))[0] == 400
    async with api.post("/v1/check", data=b'{"items": [', headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400 and (await response.json())["error"]["code"] == "E_REQUEST"
    async with api.post("/v1/check", data=b"{}", headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 415
    huge = json.dumps({"items": [{"text": "x" * 60_000}] * 150}).encode()  # 9 MB: over the 8 MiB body limit
    async with api.post("/v1/check", data=huge, headers={"Content-Type": "application/json"}) as response:
        assert response.status == 413 and (await response.json())["error"]["code"] == "E_SIZE"


async def test_ten_thousand_items_are_answered_in_a_worker_thread(api, monkeypatch):
    await submit(api, artist_envelope())
    threads = []
    original = Query._answer

    def recording(self, items, purposes):
        threads.append((threading.get_ident(), len(items)))
        return original(self, items, purposes)

    monkeypatch.setattr(Query, "_answer", recording)
    items = [{"url": f"https://site{i}.example/p/{i}"} for i in range(9_999)] + [{"text": "Ada Example"}]
    status, body = await check_many(api, {"items": items, "purposes": ["train-ai"]})
    assert status == 200 and body["results"][-1]["decision"]["train-ai"]["state"] == "disallowed"
    await check(api, url="https://a.example/")  # one URL: on the event loop
    loop_thread = threading.get_ident()
    assert threads[0][1] == 10_000 and threads[0][0] != loop_thread and threads[1] == (loop_thread, 1)


async def test_a_newer_manifest_replaces_the_older_and_an_equivocating_twin_does_not(api):
    await submit(api, artist_envelope(1, "Ada Example"))
    await submit(api, artist_envelope(2, "Bea Example"))
    _, answer = await check(api, text="by Ada Example", purpose="train-ai")
    assert answer["decision"]["train-ai"]["state"] == "unknown"
    _, answer = await check(api, text="by Bea Example", purpose="train-ai")
    assert answer["decision"]["train-ai"]["because"][0]["sequence"] == 2
    _, body = await submit(api, artist_envelope(2, "Cid Example"))
    assert body["equivocation"] is True
    _, answer = await check(api, text="by Cid Example", purpose="train-ai")
    assert answer["decision"]["train-ai"]["state"] == "unknown"


@pytest.fixture(scope="module")
def postgres_cluster():
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def storage_url(request):
    if request.param == "sqlite":
        return ""
    return await request.getfixturevalue("postgres_cluster").new_database()


async def test_the_index_is_rebuilt_from_storage_at_startup(tmp_path, storage_url, monkeypatch):
    monkeypatch.setattr(query_module, "LOAD_PAGE", 2)  # every publisher is found across pages
    config = aggregator_config(tmp_path, storage_url)
    async with running(config) as api:
        await submit(api, artist_envelope(1, "Old Name"))
        for n in range(3):
            await submit(api, did_manifest(make_key(f"other {n}"), names=[{"name": f"Other {n}"}]))
        _, body = await submit(api, artist_envelope(2))
        await integrated(api, body["entry"])
    async with running(config) as api:
        _, answer = await check(api, pdq=REPOST.pdq.hex(), purpose="train-ai")
        assert answer["decision"]["train-ai"]["because"][0]["log_index"] is not None
        for name in ("Other 0", "Other 1", "Other 2", "Ada Example"):
            _, answer = await check(api, text=name, purpose="train-ai")
            assert answer["decision"]["train-ai"]["state"] == "disallowed", name
        _, answer = await check(api, text="Old Name", purpose="train-ai")
        assert answer["decision"]["train-ai"]["state"] == "unknown"  # only each publisher's latest


def test_a_check_item_is_exactly_one_thing_within_limits():
    with pytest.raises(CheckError):
        CheckItem()
    with pytest.raises(CheckError):
        CheckItem(url="https://a.example/", text="x")
    with pytest.raises(CheckError):
        CheckItem(url="https://a.example/" + "a" * 9000)
    with pytest.raises(CheckError):
        CheckItem(pdq=b"\0" * 32, quality=101)
    with pytest.raises(CheckError):
        CheckItem(sha256=hashlib.sha256().digest()[:31])
    assert CheckItem(text="x" * 65_536).text


def test_the_worst_batch_the_body_limit_admits_stays_within_a_memory_ceiling():
    """8 MiB of captions (128 of the longest), every word of them a listed name: each caption cites every name."""
    query = Query(storage=None)
    names = [{"name": f"Name{i} Example"} for i in range(100)]
    envelope = did_manifest(make_key("many names"), names=names)
    query.catalog.add(parse_payload(dsse.parse(envelope).payload))
    words = " ".join(f"name{i} example" for i in range(100))
    caption = (words + " ") * (65_536 // (len(words) + 1))
    items = [CheckItem(text=caption[:65_536])] * 128
    tracemalloc.start()
    try:
        answers = query._answer(items, ("train-ai", "ai-use", "search"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(answers[0]["decision"]["train-ai"]["because"]) == 100
    assert peak < 64 * 1024 * 1024, peak  # 12,800 matches and 38,400 citations in the answers
