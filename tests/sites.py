"""Real local web sites for tests: aiohttp servers on 127.0.0.1, optionally over TLS.

A :class:`Site` serves a table of routes (status, body, headers, delay) that a
test can change between requests, and counts the requests each path got.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Site:
    def __init__(self, tls: "LocalCA | None" = None, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.in_flight = 0  # requests being answered now, and the most at once (to see concurrency without clocks)
        self.peak_in_flight = 0
        self.tls = tls
        self.host = host
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def serve(self, path: str, body: bytes | str = b"", status: int = 200, delay: float = 0.0, **headers: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(status, data, {k.replace("_", "-"): v for k, v in headers.items()}, delay)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        self.hits[request.path] += 1
        route = self.routes.get(path) or self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                await asyncio.sleep(route.delay)
            finally:
                self.in_flight -= 1
        etag = route.headers.get("ETag")
        if etag is not None and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(status=route.status, body=route.body, headers=route.headers)

    async def start(self) -> "Site":
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.tls.server_context() if self.tls else None)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class LocalCA:
    """A throw-away certificate for 127.0.0.1, and a client context that trusts it."""

    def __init__(self, tmp_path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "notrain test")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.cert_path = tmp_path / "cert.pem"
        self.key_path = tmp_path / "key.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))
