"""Rollback floors and bare manifests through a real fetcher and real loopback sites.

The stories of spec/security.md: a thief's manifest with sequence 2^53-1 locks
the publisher out until it rotates its key; a hijacked server cannot swap a
signed manifest for a bare one; a floor a bare manifest raised ends when the
publisher signs.
"""

from __future__ import annotations

from datetime import timedelta

from conftest import make_key
from sites import LocalCA, Site
from test_fetch_manifests import NOW, Clock, fetcher, payload, publish

from notrain.core import MANIFEST_TYPE, dsse, make_keyset, make_rotation
from notrain.core.ijson import dumps
from notrain.fetch.http import HttpClient
from notrain.fetch.manifests import Status

TOP = 2**53 - 1
WELL_KNOWN = "/.well-known/notrain.json"


async def test_a_thiefs_top_sequence_locks_the_publisher_out_until_it_rotates(site, client):
    clock = Clock()
    f = fetcher(client, clock, manifest_ttl=60)
    stolen, fresh = make_key("publisher-old"), make_key("publisher-new")

    publish(site, stolen, sequence=5)
    assert (await f.state(site.origin)).manifest.sequence == 5

    clock.t += 61  # the thief signs with the stolen key, which the key set still lists
    thiefs = publish(site, stolen, sequence=TOP, default={"train-ai": "y"})
    assert (await f.state(site.origin)).manifest.sequence == TOP

    clock.t += 61  # locked out: the publisher's next manifest, same key, is a "rollback"
    publish(site, stolen, sequence=6)
    state = await f.state(site.origin)
    assert state.stale and state.manifest.sequence == TOP and state.error.startswith("E_ROLLBACK")

    clock.t += 301  # also while both keys sign (the overlap of a rotation): the old key's floor binds
    rotation = make_rotation(site.origin, stolen, fresh.public, NOW - timedelta(hours=1))
    body = payload(site.origin, 6)
    site.serve(WELL_KNOWN, dsse.sign(body, MANIFEST_TYPE, [stolen, fresh]).to_bytes())
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [stolen.public, fresh.public], (rotation,)).to_json()))
    state = await f.state(site.origin)
    assert state.stale and state.error.startswith("E_ROLLBACK")

    clock.t += 301  # recovery: rotate, drop the stolen key, sign with the new key alone
    publish(site, fresh, sequence=6, keys=[fresh.public], rotations=(rotation,))
    state = await f.state(site.origin)
    assert not state.stale and state.manifest.sequence == 6 and state.verified.signed_by == (fresh.public.kid,)

    clock.t += 61  # the thief replays its manifest: the stolen key is no longer trusted
    site.serve(WELL_KNOWN, dsse.sign(thiefs, MANIFEST_TYPE, [stolen]).to_bytes())
    state = await f.state(site.origin)
    assert state.stale and state.manifest.sequence == 6 and state.error.startswith("E_UNKNOWN_KEY")

    clock.t += 301  # the new key's floor holds: an older manifest by the new key is a rollback
    publish(site, fresh, sequence=5, keys=[fresh.public], rotations=(rotation,))
    state = await f.state(site.origin)
    assert state.stale and state.error.startswith("E_ROLLBACK")


async def test_a_hijacked_server_cannot_drop_a_key_to_lower_the_floor(site, client):
    clock = Clock()
    f = fetcher(client, clock, manifest_ttl=60)
    first, second = make_key("two-keys-a"), make_key("two-keys-b")
    publish(site, first, sequence=10, keys=[first.public, second.public])
    assert (await f.state(site.origin)).manifest.sequence == 10
    old = dsse.sign(payload(site.origin, 3), MANIFEST_TYPE, [second]).to_bytes()  # an old manifest, by the other key
    clock.t += 61
    site.serve(WELL_KNOWN, old)
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [second.public]).to_json()))
    state = await f.state(site.origin)
    assert state.stale and state.error.startswith("E_ROLLBACK")  # second was trusted when the floor was set


async def test_a_signing_publisher_is_never_accepted_bare(tmp_path):
    ca = LocalCA(tmp_path)
    site = await Site(tls=ca).start()
    try:
        async with HttpClient(timeout=2.0, ssl=ca.client_context()) as client:
            clock = Clock()
            f = fetcher(client, clock, manifest_ttl=60, max_origins=1)
            key = make_key("tls-site")
            publish(site, key, sequence=3)
            assert (await f.state(site.origin)).manifest.sequence == 3

            clock.t += 61  # the hijacked server serves a bare manifest with a higher sequence
            site.serve(WELL_KNOWN, payload(site.origin, TOP, default={"train-ai": "y"}))
            state = await f.state(site.origin)
            assert state.stale and state.manifest.sequence == 3 and state.error.startswith("E_UNSIGNED")

            clock.t += 301  # it moved nothing: the publisher's next signed manifest is accepted
            publish(site, key, sequence=4)
            state = await f.state(site.origin)
            assert not state.stale and state.manifest.sequence == 4

            # Evicting the origin from the cache forgets neither pins nor floor.
            other = await Site().start()
            await f.state(other.origin)
            await other.stop()
            assert f.cache.peek(site.origin) is None
            site.serve(WELL_KNOWN, payload(site.origin, 5))
            state = await f.state(site.origin)
            assert state.status is Status.FAILED and state.error.startswith("E_UNSIGNED")
    finally:
        await site.stop()


async def test_a_floor_raised_by_a_bare_manifest_ends_when_the_publisher_signs(tmp_path):
    ca = LocalCA(tmp_path)
    site = await Site(tls=ca).start()
    try:
        async with HttpClient(timeout=2.0, ssl=ca.client_context()) as client:
            clock = Clock()
            f = fetcher(client, clock, manifest_ttl=60)
            site.serve(WELL_KNOWN, payload(site.origin, 2))
            assert (await f.state(site.origin)).manifest.sequence == 2
            clock.t += 61
            site.serve(WELL_KNOWN, payload(site.origin, TOP))  # a hijacker's bare manifest
            assert (await f.state(site.origin)).manifest.sequence == TOP
            clock.t += 61
            site.serve(WELL_KNOWN, payload(site.origin, 3))
            state = await f.state(site.origin)
            assert state.stale and state.error.startswith("E_ROLLBACK")
            clock.t += 301
            publish(site, make_key("now-signing"), sequence=3)
            state = await f.state(site.origin)
            assert not state.stale and state.manifest.sequence == 3 and state.verified.signed_by
    finally:
        await site.stop()
