"""Running a real aggregator application for tests: in process (a test server) or as a `notrain serve` process."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from notrain.aggregator.app import create_app
from notrain.aggregator.config import Config, from_dict
from notrain.core import dsse
from notrain.core.ijson import dumps
from notrain.core.keys import PrivateKey
from notrain.core.keyset import make_keyset
from notrain.core.manifest import MANIFEST_TYPE

ENVELOPE_TYPE = "application/vnd.notrain.manifest+json"


def aggregator_config(data_dir: Path, storage_url: str = "", **sections: dict) -> Config:
    document = {
        "data_dir": str(data_dir),
        "storage": {"url": storage_url},
        "log": {"origin": "aggregator.test/log", "checkpoint_interval": 0.05},
        "crawl": {"allow_loopback": True},
        "submissions": {"per_minute": 100_000},  # tests post bursts from one address; test_aggregator_ops tests the limit
    }
    for name, values in sections.items():
        document.setdefault(name, {}).update(values)
    return from_dict(document)


@asynccontextmanager
async def running(config: Config):
    """The application behind a real HTTP server on 127.0.0.1, and a client session for it."""
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            yield session
    finally:
        await server.close()


def origin_manifest(site, key: PrivateKey, **members) -> bytes:
    """A signed envelope of ``site``'s own manifest, its key set served by the site (a tests/sites.py Site)."""
    site.serve("/.well-known/notrain-keys.json", dumps(make_keyset(site.origin, [key.public]).to_json()))
    doc = {
        "notrain": 1, "publisher": site.origin, "sequence": 1, "issued": "2026-11-01T00:00:00Z",
        "expires": "2027-11-01T00:00:00Z", "default": {"train-ai": "n"},
    }
    doc.update(members)
    return dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, [key]).to_bytes()


def did_manifest(key: PrivateKey, **members) -> bytes:
    """A signed envelope of a did:key publisher's manifest."""
    doc = {
        "notrain": 1,
        "publisher": key.public.did_key,
        "sequence": 1,
        "issued": "2026-11-01T00:00:00Z",
        "expires": "2027-11-01T00:00:00Z",
        "default": {"train-ai": "n"},
    }
    doc.update(members)
    payload = json.dumps({k: v for k, v in doc.items() if v is not None}).encode()
    return dsse.sign(payload, MANIFEST_TYPE, [key]).to_bytes()


async def submit(session: aiohttp.ClientSession, envelope: bytes) -> tuple[int, dict]:
    async with session.post("/v1/manifests", data=envelope, headers={"Content-Type": ENVELOPE_TYPE}) as response:
        return response.status, await response.json()


async def integrated(session: aiohttp.ClientSession, entry: int, timeout: float = 30.0) -> dict:
    """Poll an entry until the sequencer has integrated it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with session.get(f"/v1/entries/{entry}") as response:
            body = await response.json()
        if body["status"] == "integrated":
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"entry {entry} not integrated in {timeout} s")
        await asyncio.sleep(0.05)
