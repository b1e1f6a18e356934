"""The example site for examples/crawler: an artist's gallery, a repost board, and a bundle.

    python examples/site/serve.py 8765            # gallery on :8765, repost board on :8766

Serves on 127.0.0.1 only:

* the **gallery** (``http://127.0.0.1:PORT``), publishing
  ``/.well-known/notrain.json``, signed with a key generated at start-up (no
  secret is ever committed: the key, key set and bundle go to a new temporary
  directory), allowing AI training by default but not for ``/private/`` nor
  ``/images/portrait.jpg``; a ``robots.txt`` whose AIPREF ``Content-Usage``
  line opts ``/drafts/`` out; a page with ``<meta name="robots"
  content="noai">``; and the images of ``examples/portfolio``, ``clouds.jpg``
  carrying an XMP ``plus:DataMining`` prohibition;
* the **board** (``http://127.0.0.1:PORT+1``), a repost site with no opt-out
  of its own, serving ``sunset.png`` re-encoded as a smaller JPEG: different
  bytes, so only its PDQ hash can recognise it;
* a **bundle** for ``NOTRAIN_SOURCES`` (its path is printed): the manifest of
  the artist's ``did:key``, opting ``sunset.png`` (SHA-256 and PDQ) and the
  name "Ada Example" out of training, wherever they turn up.

With ``--aggregator URL`` the artist's signed envelope is also submitted to a
running aggregator (``notrain serve``), so a crawl can use that aggregator as
its only source: ``NOTRAIN_SOURCES=aggregator+URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from PIL import Image

from notrain import imaging
from notrain.core import MANIFEST_TYPE, PrivateKey, dsse, make_keyset
from notrain.core.ijson import dumps
from notrain.fetch.sources import bundle
from notrain.keyfile import save_private_key

PORTFOLIO = Path(__file__).resolve().parent.parent / "portfolio"
HOST = "127.0.0.1"
ARTIST = "Ada Example"
XMP_NO_TRAINING = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    ' xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"'
    ' plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>'
    '<?xpacket end="w"?>'
).encode()


def _figure(src: str, caption: str, alt: str = "") -> str:
    return f'<figure><img src="{src}" alt="{alt}"><figcaption>{caption}</figcaption></figure>'


def _page(title: str, body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>".encode()


GALLERY_PAGES = {
    "/": _page("Ada's gallery", "".join(f'<a href="{p}">{p}</a> ' for p in
                                        ("/gallery.html", "/private/sketchbook.html", "/drafts/notes.html", "/noai.html"))),
    "/gallery.html": _page("Gallery", "".join([
        _figure("/images/shapes.png", "Shapes, acrylic", "coloured shapes"),
        _figure("/images/stripes.webp", "Stripes, digital"),
        _figure("/images/blink.gif", "Blink, animation"),
        _figure("/images/sunset.png", "Sunset over the hills"),
        _figure("/images/clouds.jpg", "Clouds (no AI training, says its metadata)"),
        _figure("/images/portrait.jpg", "Portrait (opted out by the site's manifest)"),
        _figure("/images/sketches/spiral.png", f"Spiral, a sketch by {ARTIST}"),
    ])),
    "/private/sketchbook.html": _page("Sketchbook", _figure("/images/shapes.png", "private sketch")),
    "/drafts/notes.html": _page("Drafts", "<p>work in progress</p>"),
    "/noai.html": _page("No AI", "<p>not for AI</p>", '<meta name="robots" content="noai">'),
}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _manifest(publisher: str, **members: object) -> bytes:
    now = _now()
    doc = {"notrain": 1, "publisher": publisher, "sequence": 1, "issued": _z(now - timedelta(days=1)),
           "expires": _z(now + timedelta(days=30)), **members}
    return dumps(doc)


def _with_xmp(path: Path) -> bytes:
    buffer = io.BytesIO()
    with Image.open(path) as image:
        image.save(buffer, "JPEG", quality=85, xmp=XMP_NO_TRAINING)
    return buffer.getvalue()


def _reencoded(path: Path) -> bytes:
    buffer = io.BytesIO()
    with Image.open(path) as image:
        image.convert("RGB").resize((160, 120)).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


class Example:
    """The two origins and the bundle; ``hits`` counts requests per (origin, path)."""

    def __init__(self, port: int, repost_port: int, workdir: Path) -> None:
        self.gallery = f"http://{HOST}:{port}"
        self.board = f"http://{HOST}:{repost_port}"
        self.ports = (port, repost_port)
        self.hits: Counter[tuple[str, str]] = Counter()
        self.bundle = workdir / "bundle.json"
        self._runners: list[web.AppRunner] = []
        self.routes = {self.gallery: self._gallery_routes(workdir), self.board: self._board_routes()}

    def _gallery_routes(self, workdir: Path) -> dict[str, tuple[bytes, str]]:
        site_key, artist_key = PrivateKey.generate(), PrivateKey.generate()
        save_private_key(workdir / "site-key.jwk", site_key)
        save_private_key(workdir / "artist-key.jwk", artist_key)
        manifest = _manifest(self.gallery, default={"train-ai": "y"}, paths=[
            {"pattern": "/private/", "prefs": {"train-ai": "n"}},
            {"pattern": "/images/portrait.jpg", "prefs": {"train-ai": "n"}},
        ])
        sunset = imaging.hash_file(PORTFOLIO / "sunset.png")
        artist = _manifest(artist_key.public.did_key, default={"train-ai": "n"}, pdq={"hasher": imaging.HASHER},
                           works=[{"sha256": sunset.sha256.hex(), "pdq": sunset.pdq.hex(), "title": "Sunset over the hills"}],
                           names=[{"name": ARTIST}])
        self.artist_envelope = dsse.sign(artist, MANIFEST_TYPE, [artist_key]).to_bytes()
        self.bundle.write_bytes(bundle([{"envelope": json.loads(self.artist_envelope)}]))
        routes = {path: (body, "text/html; charset=utf-8") for path, body in GALLERY_PAGES.items()}
        routes["/.well-known/notrain.json"] = (dsse.sign(manifest, MANIFEST_TYPE, [site_key]).to_bytes(), "application/json")
        routes["/.well-known/notrain-keys.json"] = (dumps(make_keyset(self.gallery, [site_key.public]).to_json()), "application/json")
        routes["/robots.txt"] = (b"User-agent: *\nAllow: /\nContent-Usage: /drafts/ train-ai=n\n", "text/plain")
        for path in PORTFOLIO.rglob("*"):
            if path.suffix in (".png", ".jpg", ".gif", ".webp"):
                kind = "image/" + {".jpg": "jpeg"}.get(path.suffix, path.suffix[1:])
                routes["/images/" + path.relative_to(PORTFOLIO).as_posix()] = (path.read_bytes(), kind)
        routes["/images/clouds.jpg"] = (_with_xmp(PORTFOLIO / "clouds.jpg"), "image/jpeg")
        return routes

    def _board_routes(self) -> dict[str, tuple[bytes, str]]:
        board = _page("Board", _figure("/media/8841.jpg", "found this, no idea who drew it"))
        return {"/": (board, "text/html; charset=utf-8"), "/media/8841.jpg": (_reencoded(PORTFOLIO / "sunset.png"), "image/jpeg")}

    async def start(self) -> Example:
        for origin, port in zip((self.gallery, self.board), self.ports):
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self._handler(origin))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, HOST, port).start()
            self._runners.append(runner)
        return self

    def _handler(self, origin: str):
        async def handle(request: web.Request) -> web.Response:
            self.hits[origin, request.path] += 1
            found = self.routes[origin].get(request.path)
            if found is None:
                return web.Response(status=404, text="not found")
            return web.Response(body=found[0], headers={"Content-Type": found[1]})

        return handle

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    async def submit_to(self, aggregator: str) -> dict:
        """Submit the artist's envelope to an aggregator; its answer (entry, receipt...)."""
        async with aiohttp.ClientSession() as session:
            headers = {"Content-Type": MANIFEST_TYPE}
            async with session.post(aggregator.rstrip("/") + "/v1/manifests", data=self.artist_envelope, headers=headers) as response:
                answer = await response.json()
                if response.status not in (200, 202):
                    raise RuntimeError(f"the aggregator refused the artist's manifest: {answer}")
                return answer


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("port", type=int, help="the gallery's port")
    parser.add_argument("repost_port", type=int, nargs="?", help="the repost board's port (default: port + 1)")
    parser.add_argument("--aggregator", metavar="URL", help="also submit the artist's manifest to this aggregator")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="notrain-example-site."))
    example = await Example(args.port, args.repost_port or args.port + 1, workdir).start()
    print(f"gallery: {example.gallery}/\nboard:   {example.board}/\nbundle:  {example.bundle}", flush=True)
    if args.aggregator:
        answer = await example.submit_to(args.aggregator)
        print(f"submitted to {args.aggregator}: entry {answer['entry']}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await example.stop()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
