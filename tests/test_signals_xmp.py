"""IPTC plus:DataMining from XMP in real JPEG, PNG, WebP and TIFF files written by Pillow."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from notrain.core import decide
from notrain.core.vocab import AI_USE, SEARCH, TRAIN_AI, State
from notrain.signals.base import XMP_DATA_MINING, SignalError
from notrain.signals import xmp
from notrain.signals.xmp import MAX_PACKET_BYTES, xmp_statements

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
Y, N = State.ALLOWED, State.DISALLOWED


def packet(descriptions: str, prolog: str = "") -> bytes:
    """A complete XMP packet, wrapper and padding included, as writers produce it."""
    return (
        f'{prolog}<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{descriptions}</rdf:RDF></x:xmpmeta>{' ' * 64}<?xpacket end=\"w\"?>"
    ).encode()


# The three RDF serialisations of a simple property; the second binds a prefix other than "plus".
FORMS = {
    "attribute": lambda v: f'<rdf:Description rdf:about="" xmlns:plus="{PLUS_NS}" plus:DataMining="{v}"/>',
    "element-text": lambda v: (
        f'<rdf:Description rdf:about="" xmlns:rights="{PLUS_NS}"><rights:DataMining>{v}</rights:DataMining></rdf:Description>'
    ),
    "rdf-resource": lambda v: (
        f'<rdf:Description rdf:about="" xmlns:plus="{PLUS_NS}"><plus:DataMining rdf:resource="{v}"/></rdf:Description>'
    ),
}


def image_with_xmp(xmp: bytes, fmt: str = "JPEG") -> bytes:
    """A real image carrying ``xmp`` where its format keeps XMP."""
    image = Image.new("RGB", (24, 16), (200, 80, 40))
    buffer = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
        image.save(buffer, "PNG", pnginfo=info)
    elif fmt == "TIFF":
        image.save(buffer, "TIFF", tiffinfo={700: xmp})
    else:
        image.save(buffer, fmt, xmp=xmp)
    return buffer.getvalue()


def read(xmp: bytes, fmt: str = "JPEG"):
    return xmp_statements(image_with_xmp(xmp, fmt), "https://art.example/a.jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_rdf_form_in_every_container(fmt, form):
    value = VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING"
    [statement] = read(packet(FORMS[form](value)), fmt)
    assert statement.prefs == {TRAIN_AI: N}
    assert statement.evidence.mechanism == XMP_DATA_MINING
    assert statement.evidence.source == "https://art.example/a.jpg"
    assert statement.evidence.raw == value
    assert statement.evidence.warnings == ()


@pytest.mark.parametrize(
    ("code", "prefs"),
    [
        ("DMI-UNSPECIFIED", {}),
        ("DMI-ALLOWED", {TRAIN_AI: Y, AI_USE: Y, SEARCH: Y}),
        ("DMI-PROHIBITED-AIMLTRAINING", {TRAIN_AI: N}),
        ("DMI-PROHIBITED-GENAIMLTRAINING", {TRAIN_AI: N}),
        ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", {TRAIN_AI: N, AI_USE: N, SEARCH: Y}),
        ("DMI-PROHIBITED", {TRAIN_AI: N, AI_USE: N, SEARCH: N}),
        ("DMI-PROHIBITED-SEECONSTRAINT", {TRAIN_AI: N, AI_USE: N, SEARCH: N}),
        ("DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", {TRAIN_AI: N, AI_USE: N, SEARCH: N}),
        ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", {TRAIN_AI: N, AI_USE: N, SEARCH: N}),
    ],
)
def test_every_vocabulary_value(code, prefs):
    [canonical] = read(packet(FORMS["rdf-resource"](VOCAB + code)))
    assert canonical.prefs == prefs and canonical.evidence.warnings == ()
    [bare] = read(packet(FORMS["element-text"](code)))
    assert bare.prefs == prefs
    assert "vocabulary URI" in bare.evidence.warnings[0]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_late_xmp(text: bytes, compressed: bool = False) -> bytes:
    """A PNG whose XMP iTXt comes after IDAT (spec-conformant; ImageMagick writes it there)."""
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16)).save(buffer, "PNG")
    png = buffer.getvalue()
    body = b"XML:com.adobe.xmp\0" + bytes([compressed, 0]) + b"\0\0" + (zlib.compress(text) if compressed else text)
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + png_chunk(b"iTXt", body) + png[iend:]


@pytest.mark.parametrize("compressed", [False, True])
def test_png_xmp_after_the_image_data(compressed):
    data = png_with_late_xmp(packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED-AIMLTRAINING")), compressed)
    assert Image.open(io.BytesIO(data)).info.get("xmp") is None  # what Pillow alone would miss
    [statement] = xmp_statements(data, "x")
    assert statement.prefs == {TRAIN_AI: N}


def test_compressed_png_packet_is_bounded():
    bomb = packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED") + " " * (64 * MAX_PACKET_BYTES))
    data = png_with_late_xmp(bomb, compressed=True)
    assert len(data) < MAX_PACKET_BYTES
    with pytest.raises(SignalError):
        xmp_statements(data, "x")


def gif_extension(xmp_packet: bytes) -> bytes:
    """XMP Specification Part 3 §1.1.2: the application extension "XMP DataXMP", the packet written raw,
    then the 258-byte magic trailer (0x01, 0xFF down to 0x00, and the block terminator)."""
    return b"\x21\xff\x0bXMP DataXMP" + xmp_packet + bytes([1, *range(255, -1, -1), 0])


def gif_with_xmp(xmp_packet: bytes, *, first: bool = False, frames: int = 1) -> bytes:
    """A real GIF made by Pillow, with the XMP extension before the first image or before the trailer."""
    images = [Image.new("P", (24, 16), i * 40) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=frames > 1, append_images=images[1:])
    gif = buffer.getvalue()
    assert gif.endswith(b";")
    if not first:
        return gif[:-1] + gif_extension(xmp_packet) + b";"
    at = gif.index(b"\x2c")  # Pillow writes no extension before a single frame's image descriptor
    return gif[:at] + gif_extension(xmp_packet) + gif[at:]


@pytest.mark.parametrize(("first", "frames"), [(True, 1), (False, 1), (False, 3)], ids=["before-the-image", "at-the-end", "animated"])
def test_gif_xmp_is_read(first, frames):
    data = gif_with_xmp(packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED-AIMLTRAINING")), first=first, frames=frames)
    assert Image.open(io.BytesIO(data)).info.get("xmp") is None  # what Pillow alone would miss
    Image.open(io.BytesIO(data)).load()  # still a valid GIF: the magic trailer makes readers skip the packet
    [statement] = xmp_statements(data, "https://art.example/a.gif")
    assert statement.prefs == {TRAIN_AI: N} and statement.evidence.warnings == ()


def test_gif_without_xmp_or_with_a_broken_extension_says_nothing():
    plain = io.BytesIO()
    Image.new("P", (8, 8)).save(plain, "GIF")
    assert xmp_statements(plain.getvalue(), "x") == []
    truncated = gif_with_xmp(packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED")))[:-400]  # into </x:xmpmeta>
    [statement] = xmp_statements(truncated, "x")  # no trailer: the packet is read to the end and does not parse
    assert statement.prefs == {} and "XMP packet not read" in statement.evidence.warnings[0]


def test_gif_packet_over_the_limit_is_refused():
    data = gif_with_xmp(packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED") + " " * MAX_PACKET_BYTES))
    with pytest.raises(SignalError):
        xmp_statements(data, "x")


def test_gif_walk_is_bounded_in_blocks():
    # A comment extension of 1-byte sub-blocks before the XMP: the walk counts them and stops at its bound.
    gif = gif_with_xmp(packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED")))
    at = gif.index(b"\x21\xff\x0bXMP")
    for blocks, found in ((999, True), (1000, False)):
        comment = b"\x21\xfe" + b"\x01c" * blocks + b"\x00"
        data = gif[:at] + comment + gif[at:]
        assert (xmp._gif_packet(data, max_blocks=1001) is not None) is found
    assert xmp.MAX_GIF_BLOCKS * 255 > 64 * 2**20  # a real 64 MiB GIF (255-byte sub-blocks) stays within the bound


def test_see_constraint_keeps_other_constraints_in_the_detail():
    """The signals.md fixture: a custom prefix, element text, a lang-alt OtherConstraints."""
    xmp = packet(
        f'<rdf:Description rdf:about="" xmlns:rights="{PLUS_NS}">'
        f"<rights:DataMining>{VOCAB}DMI-PROHIBITED-SEECONSTRAINT</rights:DataMining>"
        "<rights:OtherConstraints><rdf:Alt>"
        '<rdf:li xml:lang="de">Lizenz erforderlich</rdf:li>'
        '<rdf:li xml:lang="x-default">Licence required: ai@example.com</rdf:li>'
        "</rdf:Alt></rights:OtherConstraints></rdf:Description>"
    )
    [statement] = read(xmp, "PNG")
    assert statement.prefs[TRAIN_AI] is N
    assert "plus:OtherConstraints: Licence required: ai@example.com" in statement.evidence.detail
    assert decide([statement]).state(TRAIN_AI) is N


def test_other_constraints_in_a_separate_description():
    xmp = packet(
        FORMS["attribute"](VOCAB + "DMI-PROHIBITED-SEECONSTRAINT")
        + f'<rdf:Description rdf:about="" xmlns:plus="{PLUS_NS}" plus:OtherConstraints="write to us"/>'
    )
    [statement] = read(xmp)
    assert statement.evidence.detail.endswith("plus:OtherConstraints: write to us")


def test_the_namespace_decides_not_the_prefix():
    other = '<rdf:Description rdf:about="" xmlns:plus="http://example.com/not-plus/"><plus:DataMining>DMI-PROHIBITED</plus:DataMining></rdf:Description>'
    assert read(packet(other)) == []


def test_nested_descriptions_describe_other_resources():
    """An ingredient's metadata in xmpMM:Pantry is not this file's."""
    pantry = (
        '<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><xmpMM:Pantry><rdf:Bag><rdf:li>'
        + FORMS["attribute"](VOCAB + "DMI-PROHIBITED")
        + "</rdf:li></rdf:Bag></xmpMM:Pantry></rdf:Description>"
    )
    assert read(packet(pantry)) == []


def test_each_value_found_is_a_statement():
    xmp = packet(FORMS["attribute"](VOCAB + "DMI-ALLOWED") + FORMS["rdf-resource"](VOCAB + "DMI-PROHIBITED"))
    statements = read(xmp, "WEBP")
    assert [s.evidence.raw for s in statements] == [VOCAB + "DMI-ALLOWED", VOCAB + "DMI-PROHIBITED"]
    assert decide(statements).state(SEARCH) is N  # any "n" wins


def test_unknown_value_is_a_warning_not_a_preference():
    [statement] = read(packet(FORMS["element-text"](VOCAB + "DMI-MAYBE")))
    assert statement.prefs == {}
    assert "unknown plus:DataMining value" in statement.evidence.warnings[0]


def test_no_xmp_or_no_data_mining_says_nothing():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG")
    assert xmp_statements(buffer.getvalue(), "x") == []
    plain = packet('<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/>')
    assert read(plain) == []


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"<html><body>not an image</body></html>", b"\xff\xd8\xff\xe1\x00", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"GIF89a"],
)
def test_non_images_give_nothing(data):
    assert xmp_statements(data, "x") == []


def test_malformed_xmp_mentioning_data_mining_is_a_warning():
    broken = packet(FORMS["element-text"](VOCAB + "DMI-PROHIBITED")).replace(b"</rdf:RDF>", b"")
    [statement] = read(broken)
    assert statement.prefs == {} and statement.evidence.warnings[0].startswith("XMP packet not read")
    assert read(b"<x:xmpmeta><unclosed>") == []


def test_billion_laughs_is_refused_without_expansion():
    """Nine levels of ten references each: 10**9 "lol"s if a parser expanded them."""
    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    prolog = f"<?xml version='1.0'?><!DOCTYPE x:xmpmeta [{''.join(levels)}]>"
    bomb = packet(FORMS["element-text"]("&lol9;"), prolog=prolog)
    started = time.monotonic()
    [statement] = read(bomb, "PNG")
    assert time.monotonic() - started < 2
    assert statement.prefs == {} and "DTD" in statement.evidence.warnings[0]


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("DMI-PROHIBITED top secret")
    xxe = packet(FORMS["element-text"]("&x;"), prolog=f'<!DOCTYPE x:xmpmeta [<!ENTITY x SYSTEM "file://{secret}">]>')
    [statement] = read(xxe, "WEBP")
    assert statement.prefs == {}
    assert "top secret" not in repr(statement)


def test_oversized_packet_and_input_raise_signal_error():
    filler = "<!-- " + "x" * MAX_PACKET_BYTES + " -->"
    big = packet(FORMS["attribute"](VOCAB + "DMI-PROHIBITED") + filler)
    with pytest.raises(SignalError) as raised:
        read(big, "WEBP")
    assert raised.value.code == "E_SIGNAL_SIZE"
    with pytest.raises(SignalError):
        xmp_statements(b"\0" * (64 * 2**20 + 1), "x")


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # Pillow's notes on corrupt files
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"RIFF", b"II*\0"]))
def test_fuzz_random_bytes(data, magic):
    assert isinstance(xmp_statements(magic + data, "x"), list)


SEEDS = {fmt: image_with_xmp(packet(FORMS["rdf-resource"](VOCAB + "DMI-PROHIBITED")), fmt) for fmt in ("JPEG", "PNG", "WEBP")}


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
@pytest.mark.parametrize("fmt", sorted(SEEDS))
@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_corrupted_images_with_xmp(fmt, edits):
    data = bytearray(SEEDS[fmt])
    for where, value in edits:
        data[int(where * len(data))] = value
    assert isinstance(xmp_statements(bytes(data), "x"), list)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_xmp_values(text):
    value = text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    try:
        statements = read(packet(FORMS["attribute"](value)))
    except UnicodeEncodeError:  # lone surrogates cannot even be written into a file
        return
    assert all(s.evidence.mechanism == XMP_DATA_MINING for s in statements)
