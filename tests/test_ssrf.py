"""The SSRF guard: fetches refuse every address that is not globally reachable.

The addresses are those of IANA's special-purpose registries; the cloud metadata
addresses are AWS's (169.254.169.254, and fd00:ec2::254 on Nitro instances).
The other sites here are real aiohttp servers on 127.0.0.1; only the DNS answers
come from a stub, since a test cannot make real DNS name a private address.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from aiohttp.abc import AbstractResolver
from scrapy.utils.test import get_crawler
from sites import LocalCA, Site
from test_scrapy_middleware import TransportProbe

from notrain.fetch.addresses import ALLOW_LOOPBACK_ENV, AddressPolicy
from notrain.fetch.http import HttpClient

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback",
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fd12:3456::1": "private",
    "::ffff:192.168.0.1": "private",  # IPv4-mapped
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "169.254.169.254": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
    "64:ff9b::a9fe:a9fe": "cloud metadata",  # NAT64 of 169.254.169.254
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "100.64.0.1": "CGNAT",
    "100.127.255.254": "CGNAT",
    "240.0.0.1": "private",  # reserved, listed as not global
    "192.0.2.1": "private",  # documentation
    "198.18.0.1": "private",  # benchmarking
    "255.255.255.255": "private",
}
ALLOWED = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "100.128.0.1", "172.32.0.1"]


@pytest.mark.parametrize("address,reason", REFUSED.items())
def test_addresses_that_are_not_global_are_refused(address, reason):
    found = AddressPolicy().refusal(ipaddress.ip_address(address))
    assert found is not None and reason in found
    if reason != "loopback":
        assert AddressPolicy(allow_loopback=True).refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_global_unicast_addresses_are_allowed(address):
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_the_loopback_allowance_allows_loopback_only(address):
    assert AddressPolicy(allow_loopback=True).refusal(ipaddress.ip_address(address)) is None


class StubDNS(AbstractResolver):
    """DNS answers from a table, recording what was asked."""

    def __init__(self, answers: dict[tuple[str, int], list[str]]) -> None:
        self.answers, self.asked = answers, []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.asked.append((host, port))
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": 0} for a in self.answers[(host, port)]]

    async def close(self):
        pass


def guarded_client(policy: AddressPolicy, dns: StubDNS, **options) -> HttpClient:
    """A client whose guard wraps the stub exactly as it wraps the system resolver."""
    return HttpClient(timeout=2.0, addresses=policy, dns=dns, **options)


async def test_the_default_refuses_loopback_before_any_request(site, monkeypatch):
    site.serve("/.well-known/notrain.json", "{}")
    monkeypatch.delenv(ALLOW_LOOPBACK_ENV, raising=False)
    async with HttpClient(timeout=2.0) as client:  # the default policy, from the environment
        assert client.addresses == AddressPolicy(allow_loopback=False)
        by_literal = await client.get(site.origin + "/.well-known/notrain.json", max_bytes=100)
        by_name = await client.get(f"http://localhost:{site.port}/.well-known/notrain.json", max_bytes=100)
    assert by_literal.failure == "network: refused address: 127.0.0.1 (loopback)"
    assert by_name.failure.startswith("network: refused address: localhost resolves to ") and "(loopback)" in by_name.failure
    assert site.hits["/.well-known/notrain.json"] == 0
    monkeypatch.setenv(ALLOW_LOOPBACK_ENV, "1")
    assert AddressPolicy.from_environment().allow_loopback


async def test_a_name_with_one_private_address_among_public_ones_is_refused(site):
    dns = StubDNS({("mixed.test", site.port): ["8.8.8.8", "10.0.0.7"]})
    async with guarded_client(AddressPolicy(), dns) as client:
        fetched = await client.get(f"http://mixed.test:{site.port}/", max_bytes=100)
    assert fetched.failure == "network: refused address: mixed.test resolves to 10.0.0.7 (private)"


async def test_the_connection_goes_to_the_checked_address_only(site):
    """The name exists only in the stub: had anything resolved it a second time
    (the system resolver, for the connection), the fetch could not succeed."""
    site.serve("/x", "hello")
    dns = StubDNS({("only-in-stub.test", site.port): ["127.0.0.1"]})
    async with guarded_client(AddressPolicy(allow_loopback=True), dns) as client:
        fetched = await client.get(f"http://only-in-stub.test:{site.port}/x", max_bytes=100)
    assert fetched.ok and fetched.body == b"hello" and site.hits["/x"] == 1
    assert dns.asked == [("only-in-stub.test", site.port)]


async def test_every_redirect_hop_is_checked_again(tmp_path):
    """http -> https on the same name: a new connection, so a new, checked lookup,
    here answered with the metadata address; the TLS site is never contacted."""
    plain, secure = Site(), Site(tls=LocalCA(tmp_path))
    await plain.start(), await secure.start()
    try:
        secure.serve("/m", "secret")
        plain.serve("/m", status=301, Location=f"https://hop.test:{secure.port}/m")
        dns = StubDNS({("hop.test", plain.port): ["127.0.0.1"], ("hop.test", secure.port): ["169.254.169.254"]})
        async with guarded_client(AddressPolicy(allow_loopback=True), dns, ssl=False) as client:
            fetched = await client.get(f"http://hop.test:{plain.port}/m", max_bytes=100)
        assert fetched.failure == "network: refused address: hop.test resolves to 169.254.169.254 (cloud metadata service)"
        assert plain.hits["/m"] == 1 and secure.hits["/m"] == 0
        assert dns.asked == [("hop.test", plain.port), ("hop.test", secure.port)]
    finally:
        await plain.stop()
        await secure.stop()


async def test_the_scrapy_transport_checks_addresses_too(site, monkeypatch):
    site.serve("/.well-known/notrain.json", "{}")
    monkeypatch.delenv(ALLOW_LOOPBACK_ENV, raising=False)
    calls = [(site.origin + "/.well-known/notrain.json", {"max_bytes": 100}),
             (f"http://localhost:{site.port}/.well-known/notrain.json", {"max_bytes": 100})]
    crawler = get_crawler(TransportProbe, {"LOG_LEVEL": "INFO"})
    await crawler.crawl_async(calls=calls)
    literal, name = crawler.spider.results
    assert literal.failure == "network: refused address: 127.0.0.1 (loopback)"
    assert name.failure.startswith("network: refused address: localhost resolves to ") and "(loopback)" in name.failure
    assert site.hits["/.well-known/notrain.json"] == 0
    assert crawler.stats.get_value("notrain/refused_address_count") == 2
    allowed = get_crawler(TransportProbe, {"LOG_LEVEL": "INFO", "NOTRAIN_ALLOW_LOOPBACK": True})
    await allowed.crawl_async(calls=calls[:1])
    assert allowed.spider.results[0].ok and site.hits["/.well-known/notrain.json"] == 1


async def test_under_the_production_reactor_names_are_resolved_and_checked(site, tmp_path):
    """The asyncio reactor path: the transport resolves through the reactor's resolver
    (Scrapy's DNS cache) and checks the answer; the refused origin fails closed."""
    import crawl_process

    site.serve("/page", "page")
    site.serve("/.well-known/notrain.json", "nope", status=404)
    url = f"http://localhost:{site.port}/page"
    report = {"NOTRAIN_REPORT_PATH": str(tmp_path / "r.json")}
    code, stats, err = await crawl_process.run({**report, "NOTRAIN_ALLOW_LOOPBACK": False}, [url], 30)
    assert code == 0, err
    assert stats["notrain/refused_address_count"] == 4  # manifest, robots.txt, tdmrep.json, ai.txt
    assert stats["notrain/manifest/failed/network"] == 1 and stats["notrain/forbidden/fail-closed"] == 1
    assert site.hits["/.well-known/notrain.json"] == 0 and site.hits["/page"] == 0
    code, stats, err = await crawl_process.run({**report, "NOTRAIN_ALLOW_LOOPBACK": True}, [url], 30)
    assert code == 0, err
    assert "notrain/refused_address_count" not in stats and site.hits["/.well-known/notrain.json"] == 1 and site.hits["/page"] == 1
