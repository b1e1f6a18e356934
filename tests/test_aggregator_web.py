"""The aggregator's web page over real HTTP (SQLite): every page and form, with hostile publisher text.

Pages are read back with an HTML parser, so "escaped" means what a browser would see: the hostile text
arrives as text, and the only elements and attributes are the page's own.
"""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aggregator_helpers import aggregator_config, did_manifest, integrated, origin_manifest, running, submit
from conftest import make_key
from pictures import encode, picture, png_claiming_size
from PIL import Image

from notrain import imaging
from notrain.aggregator.web import upload
from notrain.aggregator.web.pages import CSP

# Markup and script in every shape a title or name could carry, and Unicode that is valid but unusual:
# a right-to-left override, combining marks, a zero-width joiner, a BOM, astral letters, a control
# character and a line break.
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>\"' & </bdi></td></table>{{ 7*7 }}"
ODD = "\u202eevil\u202c Ада e\u0301 \u200d\ufeff 𝔘𝔫𝔦 🎨 \x07\nnext"
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "link", "body", "a", "header", "nav", "main", "footer", "h1", "h2", "p", "dl", "dt",
    "dd", "code", "span", "section", "ul", "li", "table", "caption", "thead", "tbody", "tr", "th", "td", "time", "div",
    "bdi", "strong", "br", "pre", "form", "label", "input", "button",
}
WORK_IMAGE = encode(picture(11))
WORK = imaging.hash_bytes(WORK_IMAGE)


class Page(HTMLParser):
    """What a browser builds from the HTML: elements with their attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self.feed(html)
        self.close()
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.chunks.append(data)

    def links(self) -> list[str]:
        return [attrs[name] for _, attrs in self.tags for name in ("href", "src", "action") if name in attrs]


def artist_envelope(sequence: int = 1, **members) -> bytes:
    works = [{"sha256": WORK.sha256.hex(), "pdq": WORK.pdq.hex(), "title": HOSTILE}, {"sha256": "ab" * 32, "title": ODD}]
    doc = {"default": {"train-ai": "n", "ai-use": "n"}, "pdq": {"hasher": imaging.HASHER}, "works": works, "names": [{"name": HOSTILE}, {"name": ODD}]}
    return did_manifest(make_key("artist"), sequence=sequence, **(doc | members))


ARTIST = make_key("artist").public.did_key


@pytest.fixture
async def web(tmp_path):
    async with running(aggregator_config(tmp_path)) as session:
        status, body = await submit(session, artist_envelope())
        assert status == 202, body
        await integrated(session, body["entry"])
        yield session


async def get_page(session: aiohttp.ClientSession, path: str, expect: int = 200, **params) -> Page:
    async with session.get(path, params=params) as response:
        return await read_page(response, expect)


async def read_page(response: aiohttp.ClientResponse, expect: int) -> Page:
    assert response.status == expect, await response.text()
    assert response.content_type == "text/html" and response.charset == "utf-8"
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = Page(await response.text())
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert not [name for _, attrs in page.tags for name in attrs if name.startswith("on")]
    assert all(link.startswith(("/", "#")) and not link.startswith("//") for link in page.links())  # nothing from elsewhere
    return page


def test_the_policy_allows_no_script_and_nothing_from_elsewhere():
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert directives["style-src"] == "'self'" and directives["form-action"] == "'self'"


async def test_home_shows_the_log_recent_entries_and_the_forms(web):
    page = await get_page(web, "/")
    async with web.get("/v1/log") as response:
        log = await response.json()
    assert log["origin"] in page.text and log["vkey"] in page.text
    assert "Checkpoint size1 entry" in page.text.replace("\n", "")  # the checkpoint size
    assert ("a", {"class": "id", "href": f"/publisher?id={ARTIST.replace(':', '%3A')}"}) in page.tags
    assert "/v1/entries/1" in page.links()
    assert "Equivocation" not in page.text
    forms = [attrs for tag, attrs in page.tags if tag == "form"]
    assert [(f["method"], f["action"]) for f in forms] == [("get", "/search"), ("get", "/check"), ("get", "/check"), ("post", "/check/image")]
    assert [f.get("enctype") for f in forms if f["method"] == "post"] == ["multipart/form-data"]
    labelled = {attrs["for"] for tag, attrs in page.tags if tag == "label"}
    assert labelled == {attrs["id"] for tag, attrs in page.tags if tag == "input"}  # every field has its label
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in page.tags


async def test_the_stylesheet_is_served_from_here_and_loads_nothing(web):
    async with web.get("/web/notrain.css") as response:
        assert response.status == 200 and response.content_type == "text/css"
        css = await response.text()
    assert "@media (max-width" in css
    assert "url(" not in css and "@import" not in css


async def test_publisher_page_shows_hostile_text_as_text(web):
    page = await get_page(web, "/publisher", id=ARTIST)
    assert page.text.count(HOSTILE) == 2  # the name and the work's title, both as text
    assert ODD in page.text
    assert "train-ai=n" in page.text and "ai-use=n" in page.text
    assert f"/v1/publisher/envelope?id={ARTIST.replace(':', '%3A')}" in page.links()
    assert "(the publisher's did:key)" in page.text and "EXPIRED" not in page.text
    rows = [attrs for tag, attrs in page.tags if tag == "tr" and attrs.get("class") == "flagged"]
    assert rows == []


async def test_the_envelope_link_serves_the_exact_signed_bytes(web):
    page = await get_page(web, "/publisher", id=ARTIST)
    [envelope_link] = [link for link in page.links() if link.startswith("/v1/publisher/envelope")]
    async with web.get(envelope_link) as response:
        assert await response.read() == artist_envelope()


async def test_publisher_history_flags_equivocation_and_home_shows_it(web):
    status, body = await submit(web, artist_envelope(sequence=2))
    assert status == 202
    status, body = await submit(web, artist_envelope(sequence=2, default={"train-ai": "y"}))
    assert status == 202 and body["equivocation"]
    page = await get_page(web, "/publisher", id=ARTIST)
    flagged = [attrs for tag, attrs in page.tags if tag == "tr" and attrs.get("class") == "flagged"]
    assert len(flagged) == 2 and page.text.count("equivocation") == 2
    assert "signed another, different manifest with sequence 2" in page.text
    home = await get_page(web, "/")
    assert "Equivocation: conflicting manifests" in home.text and "sequence 2: 2 manifests" in home.text
    assert ("section", {"class": "alert", "aria-labelledby": "equivocations"}) in home.tags


async def test_unknown_and_missing_publishers_are_pages_that_say_so(web):
    page = await get_page(web, "/publisher", expect=404, id=HOSTILE)
    assert "Publisher not found" in page.text and HOSTILE in page.text
    page = await get_page(web, "/publisher", expect=400)
    assert "Give a publisher id" in page.text
    await get_page(web, "/publisher", expect=400, id="x" * 513)


async def test_search_by_prefix(web):
    page = await get_page(web, "/search", prefix="did:key:")
    assert ARTIST in page.text and "Publishers starting with" in page.text
    page = await get_page(web, "/search", prefix="https://")
    assert ARTIST not in page.text and "No publisher found." in page.text
    page = await get_page(web, "/search", prefix=HOSTILE + ODD)  # reflected, as text
    assert HOSTILE + ODD in page.text and "No publisher found." in page.text
    inputs = [attrs for tag, attrs in page.tags if tag == "input" and attrs.get("name") == "prefix"]
    assert inputs[0]["value"] == HOSTILE + ODD  # kept in the field, inside its attribute
    page = await get_page(web, "/search")
    assert "All publishers" in page.text and ARTIST in page.text
    page = await get_page(web, "/search", expect=400, prefix="x" * 513)
    assert "at most 512 characters" in page.text


async def test_log_page_shows_the_signed_checkpoint_and_entries(web):
    page = await get_page(web, "/log")
    async with web.get("/log/checkpoint") as response:
        note = await response.text()
    assert note in page.text and note.startswith("aggregator.test/log\n1\n")
    assert "/v1/entries/1" in page.links()
    async with web.get("/v1/entries/1") as response:
        assert (await response.json())["log_index"] == 0


async def test_check_url_answers_from_the_query_with_its_evidence(web, site):
    envelope = origin_manifest(site, make_key("site"), default={"train-ai": "y"},
                               paths=[{"pattern": "/private/", "prefs": {"train-ai": "n"}}])
    status, body = await submit(web, envelope)
    assert status == 202, body
    page = await get_page(web, "/check", url=f"{site.origin}/private/a.png")
    assert "disallowed for train-ai" in page.text and "no statement for ai-use" in page.text
    assert "rule /paths/0" in page.text and site.origin in page.text
    page = await get_page(web, "/check", url=f"{site.origin}/public/a.png")
    assert "allowed for train-ai" in page.text and "disallowed" not in page.text
    hostile_url = f"https://elsewhere.example/{HOSTILE}"
    page = await get_page(web, "/check", url=hostile_url)
    assert hostile_url in page.text and "no statement for train-ai" in page.text
    page = await get_page(web, "/check", expect=400)
    assert "Nothing to check" in page.text
    await get_page(web, "/check", expect=400, url="https://x.example/", text="both")


async def test_check_a_caption_for_an_artists_name(web):
    status, body = await submit(web, did_manifest(make_key("painter"), names=[{"name": "Mira Solberg"}]))
    assert status == 202, body
    page = await get_page(web, "/check", text="portrait in the style of mira solberg, trending")
    assert "disallowed for train-ai" in page.text and "Caption: portrait in the style of mira solberg" in page.text
    assert make_key("painter").public.did_key in page.text and "rule /names/0" in page.text
    page = await get_page(web, "/check", text=f"by {HOSTILE}")  # the fixture's artist took the hostile string as a name
    assert f"by {HOSTILE}" in page.text and "disallowed for train-ai" in page.text and ARTIST in page.text
    page = await get_page(web, "/check", text="a lighthouse at dusk")
    assert "no statement for train-ai" in page.text and "disallowed" not in page.text


async def post_image(session: aiohttp.ClientSession, data: bytes, expect: int, *, field: str = "image") -> Page:
    form = aiohttp.FormData()
    form.add_field(field, data, filename="upload.png", content_type="application/octet-stream")
    async with session.post("/check/image", data=form) as response:
        return await read_page(response, expect)


async def test_an_uploaded_work_and_a_repost_of_it_are_disallowed(web):
    page = await post_image(web, WORK_IMAGE, 200)
    assert page.text.count("disallowed for train-ai") == 2  # by SHA-256 and by PDQ
    assert WORK.sha256.hex() in page.text and "sha256 match" in page.text and "log index 0" in page.text
    assert HOSTILE not in page.text  # evidence cites rules by pointer, never by title

    repost = encode(picture(11).resize((240, 180)), "JPEG", quality=70)
    page = await post_image(web, repost, 200)
    assert "pdq distance" in page.text
    sections = page.text.split("Copies that look the same (PDQ)")
    assert "disallowed" not in sections[0].split("This exact file (SHA-256)")[1]  # other bytes: no SHA-256 match
    assert "disallowed for train-ai" in sections[1] and "disallowed for ai-use" in sections[1]


async def test_a_flat_image_is_matched_by_bytes_only(web):
    flat = encode(Image.new("RGB", (64, 64), (200, 30, 30)))
    page = await post_image(web, flat, 200)
    assert "Not checked: a PDQ hash of quality below 50 is never matched" in page.text
    assert "no statement for train-ai" in page.text


@pytest.mark.parametrize(
    "data, status, message",
    [
        (b"%PDF-1.7 not a picture", 422, "This file is not an image"),
        (b"", 400, "Choose an image file to check"),
        (png_claiming_size(5000, 4000), 413, "This image is 5000×4000: at most 16 megapixels"),
        (encode(picture(1))[:200], 422, "This image cannot be read"),
    ],
    ids=["not-an-image", "empty", "too-many-pixels", "truncated"],
)
async def test_uploads_that_cannot_be_checked_get_a_clear_page(web, data, status, message):
    page = await post_image(web, data, status)
    assert "Image not checked" in page.text and message in page.text


async def test_an_upload_over_the_size_limit_is_refused_unread(web):
    page = await post_image(web, b"\x89PNG" + bytes(upload.MAX_UPLOAD_BYTES), 413)
    assert "larger than 10 MiB" in page.text


async def test_a_form_without_the_file_or_not_multipart_is_refused(web):
    await post_image(web, WORK_IMAGE, 400, field="picture")
    async with web.post("/check/image", data=b"image=1", headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
        page = await read_page(response, 400)
    assert "multipart/form-data" in page.text
    bad_boundary = {"Content-Type": "multipart/form-data; boundary=xyz"}
    async with web.post("/check/image", data=b"--abc\r\n\r\nno part here", headers=bad_boundary) as response:
        page = await read_page(response, 400)
    assert "multipart/form-data" in page.text


async def test_hashing_admits_one_running_and_a_bounded_queue():
    hasher = upload.ImageHasher(waiting=1)
    async with hasher.slot(), hasher.slot():
        with pytest.raises(upload.UploadError) as refused:
            async with hasher.slot():
                pass
        assert refused.value.status == 503
    async with hasher.slot():  # released again
        pass


def test_the_largest_admitted_upload_hashes_within_a_memory_ceiling(tmp_path):
    """16 megapixels of noise (the worst case for the decoder) at the pixel limit: peak memory stays under
    1.5 GiB (about 0.45 GiB measured), in a fresh process so earlier tests do not count."""
    script = tmp_path / "worst.py"
    script.write_text(
        "import resource, sys\n"
        "from PIL import Image\n"
        "from notrain.aggregator.web.upload import MAX_PIXELS, hash_upload\n"
        "import io\n"
        "side = int(MAX_PIXELS ** 0.5)\n"
        "buffer = io.BytesIO(); Image.effect_noise((side, side), 64).convert('RGB').save(buffer, 'JPEG', quality=70)\n"
        "data = buffer.getvalue()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "hashed = hash_upload(data)\n"
        "print(side * side, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, len(hashed.pdq))\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True, cwd=Path(__file__).parent)
    pixels, grown_kib, pdq_bytes = map(int, out.stdout.split())
    assert pixels <= upload.MAX_PIXELS and pixels > 0.99 * upload.MAX_PIXELS and pdq_bytes == 32
    assert grown_kib < 1.5 * 1024 * 1024


def test_hostile_headers_never_reach_pillow_decoders_beyond_the_pixel_limit():
    with pytest.raises(upload.UploadError) as refused:
        upload.hash_upload(png_claiming_size(40_000, 40_000))
    assert refused.value.status == 413


def test_templates_never_mark_text_safe():
    templates = Path(upload.__file__).parent / "templates"
    for template in templates.glob("*.html"):
        source = template.read_text()
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, template.name
