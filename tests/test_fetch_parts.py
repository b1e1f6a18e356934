"""Parts of large catalogues: fetched only from the manifest's origin, concurrently,
and within one deadline for the whole manifest (spec/fetching.md, "Parts")."""

from __future__ import annotations

import hashlib

from conftest import make_key
from test_fetch_manifests import Clock, fetcher, publish

from notrain.core.ijson import dumps
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import PART_CONCURRENCY, Status, part_url


def serve_parts(site, count: int, delay: float = 0.0, base: str | None = None) -> list[dict]:
    """``count`` real parts on ``site``; their references, with URLs under ``base`` (default: relative)."""
    refs = []
    for i in range(count):
        body = dumps({"notrain-part": 1, "publisher": site.origin, "sequence": 1, "works": [{"sha256": f"{i:02x}" * 32}]})
        site.serve(f"/parts/{i}.json", body, delay=delay)
        refs.append({"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "url": f"{base or ''}/parts/{i}.json"})
    return refs


def test_part_urls_stay_on_the_manifests_origin():
    manifest = "https://art.example/.well-known/notrain.json"
    assert part_url(manifest, "p/1.json", 0) == "https://art.example/.well-known/p/1.json"
    assert part_url(manifest, "/p/1.json", 0) == "https://art.example/p/1.json"
    assert part_url(manifest, "https://ART.example:443/p", 0) == "https://ART.example:443/p"  # the same origin, spelt otherwise
    for elsewhere in ("//evil.example/p", "https://evil.example/p", "http://art.example/p", "https://art.example:8443/p",
                      "https://art.example@evil.example/p", "http://127.0.0.1/p", "http://169.254.169.254/latest/meta-data/"):
        try:
            part_url(manifest, elsewhere, 3)
        except Exception as error:  # noqa: BLE001 - the fetcher's own failure type
            assert str(error).startswith("part 3: ") and "is not on the manifest's origin" in str(error)
        else:
            raise AssertionError(f"{elsewhere} was allowed")


async def test_a_part_on_another_origin_is_never_requested(sites, client):
    site, other = await sites(), await sites()
    refs = serve_parts(other, 1, base=other.origin)
    publish(site, make_key("site"), parts=refs)
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and "is not on the manifest's origin" in state.error
    assert other.hits["/parts/0.json"] == 0


async def test_parts_are_fetched_concurrently_and_merged_in_order(site, client):
    refs = serve_parts(site, 12, delay=1.0)
    publish(site, make_key("site"), parts=refs)
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.VERIFIED
    assert [w.ref for w in state.manifest.works] == [f"/parts/{i}/works/0" for i in range(12)]
    assert [w.sha256.hex() for w in state.manifest.works] == [f"{i:02x}" * 32 for i in range(12)]
    assert 1 < site.peak_in_flight <= PART_CONCURRENCY  # more than one at a time, never more than the limit


async def test_one_deadline_bounds_the_whole_manifest(site):
    """256 parts that each take longer than the deadline: one deadline ends them all,
    where one timeout per part in a row would hold the origin for 256 timeouts."""
    refs = serve_parts(site, 256, delay=3.0)
    publish(site, make_key("site"), parts=refs)
    async with HttpClient(timeout=10.0) as client:  # no single request times out before the deadline
        state = await fetcher(client, Clock(), manifest_deadline=0.5).state(site.origin)
    assert state.status is Status.FAILED and state.error == "deadline: manifest not loaded in full within 0.5 s"
    assert 1 <= sum(site.hits[f"/parts/{i}.json"] for i in range(256)) <= PART_CONCURRENCY  # the rest never requested


async def test_the_first_failing_part_stops_the_others(site, client):
    refs = serve_parts(site, 20, delay=0.2)
    site.serve("/parts/0.json", "gone", status=500)
    publish(site, make_key("site"), parts=refs)
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and state.error == "part 0: HTTP 500"
    assert sum(site.hits[f"/parts/{i}.json"] for i in range(20)) < 20


async def test_declared_part_sizes_beyond_the_catalogue_limit_fail_before_any_fetch(site, client):
    refs = serve_parts(site, 1)
    refs = [{**refs[0], "url": f"/parts/{i}.json", "sha256": f"{i:064x}", "size": 1024 * 1024} for i in range(65)]
    publish(site, make_key("site"), parts=refs)
    state = await fetcher(client).state(site.origin)
    assert state.status is Status.FAILED and state.error == "parts exceed the catalogue limit"
    assert site.hits["/parts/0.json"] == 0


async def test_the_deadline_counts_from_the_first_request(site):
    """A slow manifest document uses up the same deadline as its key set and parts."""
    publish(site, make_key("site"))
    site.routes["/.well-known/notrain.json"].delay = 3.0
    async with HttpClient(timeout=10.0) as client:
        state = await fetcher(client, Clock(), manifest_deadline=0.5).state(site.origin)
    assert state.status is Status.FAILED and state.error.startswith("deadline: ")
    assert site.hits["/.well-known/notrain-keys.json"] == 0
