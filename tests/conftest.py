"""Shared fixtures: deterministic keys and a manifest builder."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone

import pytest
from sites import Site

from notrain.core import PrivateKey
from notrain.fetch.http import HttpClient

# The tests' sites listen on 127.0.0.1, which the SSRF guard refuses by default
# (tests/test_ssrf.py proves that): allow loopback here and in the crawls the
# tests start as subprocesses, which inherit the environment.
os.environ["NOTRAIN_ALLOW_LOOPBACK"] = "1"

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
ORIGIN = "https://art.example"


def make_key(name: str) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(name.encode()).digest())


def manifest_bytes(**members) -> bytes:
    """Payload bytes for a valid manifest of ``ORIGIN``; ``None`` removes a member."""
    doc = {
        "notrain": 1,
        "publisher": ORIGIN,
        "sequence": 1,
        "issued": "2026-11-01T00:00:00Z",
        "expires": "2027-11-01T00:00:00Z",
        "default": {"train-ai": "n"},
    }
    doc.update(members)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


@pytest.fixture
def site_key() -> PrivateKey:
    return make_key("site")


@pytest.fixture
async def site():
    """One local site on 127.0.0.1."""
    s = await Site().start()
    yield s
    await s.stop()


@pytest.fixture
async def client():
    async with HttpClient(timeout=2.0) as c:
        yield c


@pytest.fixture
async def sites():
    """Start local sites on demand (``site = await sites()``); all stopped after the test."""
    started: list[Site] = []

    async def start() -> Site:
        started.append(await Site().start())
        return started[-1]

    yield start
    for site in started:
        await site.stop()


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster for the whole run (tests/postgres.py); a skip without PostgreSQL.
    ``await postgres_cluster.new_database()`` gives each test an empty database's URL."""
    from postgres import PostgresCluster

    cluster = PostgresCluster()
    yield cluster
    cluster.stop()
