"""The SSRF guard: which network addresses notrain's fetches may connect to.

A manifest names URLs (its parts) and a page names link targets, so whoever
writes them could make every verifier send requests into the verifier's own
network: to loopback services, to the private network, to a cloud's metadata
service.  Every fetch therefore resolves the host, refuses it if *any* of its
addresses is not globally reachable (spec/fetching.md, "Addresses"), and
connects only to the addresses it checked, so that a second DNS answer cannot
swap in another one (DNS rebinding).

:class:`GuardedResolver` does this for aiohttp, as the resolver of the
client's connector; IP literals never reach a resolver, so callers check them
with :meth:`AddressPolicy.check_host` as well.  Loopback can be allowed for
tests and local demos (``NOTRAIN_ALLOW_LOOPBACK=1`` in the environment, or
``AddressPolicy(allow_loopback=True)``); nothing else can.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

ALLOW_LOOPBACK_ENV = "NOTRAIN_ALLOW_LOOPBACK"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Named for the message only: every one of them is refused as not global anyway.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: a NAT64 gateway connects to the embedded IPv4


class BlockedAddress(OSError):
    """A host that resolves to an address the guard refuses."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host, self.address, self.reason = host, address, reason
        where = address if host == address else f"{host} resolves to {address}"
        super().__init__(f"refused address: {where} ({reason})")


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a fetch may reach: global unicast only, plus loopback if allowed."""

    allow_loopback: bool = False

    @classmethod
    def from_environment(cls) -> AddressPolicy:
        """The default: loopback only if ``NOTRAIN_ALLOW_LOOPBACK`` is ``1`` (tests, local demos)."""
        return cls(allow_loopback=os.environ.get(ALLOW_LOOPBACK_ENV, "") == "1")

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be connected to, or None if it may."""
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = self.refusal(embedded)
            if reason is not None or _translates(address):
                return reason and f"{reason}, embedded in {address}"
        if address.is_loopback:
            return None if self.allow_loopback else "loopback"
        if address in _METADATA:
            return "cloud metadata service"
        if address.is_multicast:
            return "multicast"
        if address.is_unspecified:
            return "unspecified"
        if address.is_link_local:
            return "link-local"
        if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
            return "shared address space (CGNAT)"
        if address.is_private:
            return "private"
        if address.is_reserved or not address.is_global:
            return "reserved or not globally reachable"
        return None

    def check(self, host: str, address: str) -> None:
        """Raise :class:`BlockedAddress` unless ``address`` (an IP, as resolved for ``host``) may be reached."""
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise BlockedAddress(host, address, "not an IP address") from None
        reason = self.refusal(parsed)
        if reason is not None:
            raise BlockedAddress(host, address, reason)

    def check_host(self, host: str | None) -> bool:
        """Check a URL's host if it is an IP literal, and say whether it was one
        (a name is checked once resolved)."""
        literal = (host or "").strip("[]")
        try:
            ipaddress.ip_address(literal.split("%", 1)[0])
        except ValueError:
            return False
        self.check(literal, literal)
        return True


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that answers only with addresses the policy allows.

    It refuses the host if any address is refused (a name that also points at
    a private address is not used at all), and the connector connects only to
    the addresses returned here: there is no second resolution to rebind.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            self.policy.check(host, answer["host"])
        return answers

    async def close(self) -> None:
        await self._inner.close()



def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: mapped (::ffff:a.b.c.d), NAT64 or 6to4."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _translates(address: IPAddress) -> bool:
    """Whether the IPv6 address *is* its IPv4 address (mapped, NAT64), so that one decides alone."""
    return isinstance(address, ipaddress.IPv6Address) and (address.ipv4_mapped is not None or address in _NAT64)
