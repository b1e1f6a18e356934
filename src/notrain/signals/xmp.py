"""IPTC ``plus:DataMining`` read from the XMP packet embedded in an image.

The value travels inside the file, so it survives copying and reposting
(unless a platform strips metadata: absence therefore says nothing).  Pillow
finds the raw packet in JPEG APP1, WebP, TIFF tag 700 and AVIF without
decoding pixels, and only those plugins are tried, so arbitrary bytes never
reach Pillow's other parsers.  PNG is walked chunk by chunk here, because
Pillow stops at the first IDAT and some writers put the XMP iTXt after it.
GIF, whose Pillow plugin ignores XMP, is walked block by block to the
``XMP DataXMP`` application extension (XMP Specification Part 3 §1.1.2): the
packet is written raw there, followed by a 258-byte "magic trailer" that
makes GIF readers skip it; the walk stops after :data:`MAX_GIF_BLOCKS` blocks,
more than a 64 MiB GIF written with full 255-byte sub-blocks has.
The packet is parsed with defusedxml with DTDs forbidden outright: XMP never
needs one, and a DTD is what entity bombs and external entities need.

Mapping of the PLUS vocabulary (``http://ns.useplus.org/ldf/vocab/``) to AIPREF:

* ``DMI-UNSPECIFIED``: nothing stated;
* ``DMI-ALLOWED``: train-ai, ai-use and search allowed;
* ``DMI-PROHIBITED-AIMLTRAINING`` (all AI/ML training, so generative too) and
  ``DMI-PROHIBITED-GENAIMLTRAINING``: train-ai disallowed;
* ``DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING``: train-ai and ai-use
  disallowed, search allowed;
* ``DMI-PROHIBITED``: all three disallowed (IPTC has the value above for
  publishers who want to keep search);
* ``DMI-PROHIBITED-SEECONSTRAINT``, ``-SEEEMBEDDEDRIGHTSEXPR``,
  ``-SEELINKEDRIGHTSEXPR``: as ``DMI-PROHIBITED``, since notrain does not
  evaluate the constraints they point to.

The full URI is canonical; the bare code is accepted with a warning.  Every
``plus:DataMining`` found yields one statement, even one that states nothing
(``DMI-UNSPECIFIED``, an unknown value), so a publisher can see what was read.
The namespace URI decides, never the prefix.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from PIL import Image

from ..core.decision import Statement
from ..core.vocab import AI_USE, SEARCH, TRAIN_AI, State
from .base import MAX_RAW_CHARS, XMP_DATA_MINING, check_size, make_statement

MAX_IMAGE_BYTES = 64 * 2**20
MAX_PACKET_BYTES = 2**20

# Only formats whose Pillow plugin reads XMP at open(); the order is the sniffing order.
FORMATS = ("JPEG", "WEBP", "TIFF", "AVIF")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp\0"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
GIF_XMP_EXTENSION = b"\x21\xff\x0bXMP DataXMP"  # introducer, application label, block size 11, identifier
GIF_XMP_TRAILER = bytes([1, *range(255, -1, -1)])  # followed by the block terminator 0x00
MAX_GIF_BLOCKS = 2**19

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
PLUS = "{http://ns.useplus.org/ldf/xmp/1.0/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DATA_MINING = PLUS + "DataMining"
OTHER_CONSTRAINTS = PLUS + "OtherConstraints"
VOCAB = "http://ns.useplus.org/ldf/vocab/"

Y, N = State.ALLOWED, State.DISALLOWED
PROHIBITED = {TRAIN_AI: N, AI_USE: N, SEARCH: N}
VALUES: dict[str, dict[str, State]] = {
    "DMI-UNSPECIFIED": {},
    "DMI-ALLOWED": {TRAIN_AI: Y, AI_USE: Y, SEARCH: Y},
    "DMI-PROHIBITED-AIMLTRAINING": {TRAIN_AI: N},
    "DMI-PROHIBITED-GENAIMLTRAINING": {TRAIN_AI: N},
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": {TRAIN_AI: N, AI_USE: N, SEARCH: Y},
    "DMI-PROHIBITED": PROHIBITED,
    "DMI-PROHIBITED-SEECONSTRAINT": PROHIBITED,
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": PROHIBITED,
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": PROHIBITED,
}
# Values that defer to another property, and which one.
SEE_ELSEWHERE = {
    "DMI-PROHIBITED-SEECONSTRAINT": "plus:OtherConstraints",
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": "iptcExt:EmbdEncRightsExpr",
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": "iptcExt:LinkedEncRightsExpr",
}


def xmp_statements(data: bytes, source: str) -> list[Statement]:
    """Statements from every ``plus:DataMining`` in ``data``'s XMP packet.

    ``data`` may be any file: bytes that are not an image with XMP give no
    statement.  A packet that is not well-formed XML (or carries a DTD) gives
    a warning-only statement when it mentions DataMining, else nothing.
    Raises :class:`SignalError` only for an input or packet over its limit.
    """
    check_size(data, MAX_IMAGE_BYTES, "image")
    packet = extract_packet(data)
    if packet is None:
        return []
    check_size(packet, MAX_PACKET_BYTES, "XMP packet")
    try:
        root = fromstring(packet.rstrip(b"\x00 \t\r\n"), forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        if b"DataMining" not in packet:
            return []
        return [make_statement({}, XMP_DATA_MINING, source, warnings=[f"XMP packet not read: {exc}"])]
    descriptions = _descriptions(root)
    constraints = _other_constraints(descriptions)
    return [_statement(value, constraints, source) for value in _data_mining(descriptions)]


def extract_packet(data: bytes) -> bytes | None:
    """The raw XMP packet, found without decoding any pixels."""
    if data.startswith(PNG_SIGNATURE):
        return _png_packet(data)
    if data.startswith(GIF_SIGNATURES):
        return _gif_packet(data)
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            packet = image.info.get("xmp")
    except Exception:  # noqa: BLE001 -- Pillow's plugins raise almost any exception type on hostile bytes
        return None
    return packet if isinstance(packet, bytes) and packet else None


def _png_packet(data: bytes) -> bytes | None:
    """The text of the first ``XML:com.adobe.xmp`` iTXt chunk, before or after the image data."""
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        body = data[position + 8 : position + 8 + length]
        if kind == b"iTXt" and body.startswith(PNG_XMP_KEYWORD):
            return _itxt_text(body[len(PNG_XMP_KEYWORD) :])
        if kind == b"IEND":
            break
        position += 12 + length
    return None


def _gif_packet(data: bytes, max_blocks: int = MAX_GIF_BLOCKS) -> bytes | None:
    """The packet of the first ``XMP DataXMP`` extension, found by walking the GIF's blocks."""
    position = 13 + _color_table(data, 10)  # header and logical screen descriptor
    blocks = 0
    while position < len(data) and blocks < max_blocks:
        kind = data[position]
        if kind == 0x21:  # extension: introducer, label, data sub-blocks
            if data.startswith(GIF_XMP_EXTENSION, position):
                return _gif_xmp(data, position + len(GIF_XMP_EXTENSION))
            position += 2
        elif kind == 0x2C and position + 10 <= len(data):  # image: descriptor, color table, LZW code size, data
            position += 10 + _color_table(data, position + 9) + 1
        else:  # the trailer 0x3B, or bytes that are no GIF block
            return None
        while position < len(data) and data[position] and blocks < max_blocks:  # data sub-blocks up to the terminator
            position += 1 + data[position]
            blocks += 1
        position += 1
    return None


def _color_table(data: bytes, flags_at: int) -> int:
    """The size of the color table announced by the packed flags at ``flags_at`` (0 if none)."""
    flags = data[flags_at] if flags_at < len(data) else 0
    return 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0


def _gif_xmp(data: bytes, start: int) -> bytes:
    """The raw packet up to the magic trailer; without one, one byte more than a packet may
    have (or the rest of the file), so that an oversized packet is seen and refused."""
    end = data.find(GIF_XMP_TRAILER, start, start + MAX_PACKET_BYTES + 1 + len(GIF_XMP_TRAILER))
    return data[start:end] if end >= 0 else data[start : start + MAX_PACKET_BYTES + 1]


def _itxt_text(body: bytes) -> bytes | None:
    """iTXt after the keyword: compression flag and method, language, translated keyword, text."""
    fields = body[2:].split(b"\0", 2)
    if len(body) < 2 or len(fields) != 3:
        return None
    if not body[0]:
        return fields[2]
    try:  # inflate one byte past the limit, so that an oversized packet is seen (and refused) without a bomb
        return zlib.decompressobj().decompress(fields[2], MAX_PACKET_BYTES + 1)
    except zlib.error:
        return None


def _descriptions(root: Element) -> list[Element]:
    """The top-level rdf:Description elements: nested ones describe other resources (ingredients)."""
    rdf = root if root.tag == RDF + "RDF" else root.find(f".//{RDF}RDF")
    return [] if rdf is None else rdf.findall(RDF + "Description")


def _data_mining(descriptions: list[Element]) -> Iterator[str]:
    """Values in all three RDF forms: attribute, element text, element rdf:resource."""
    for description in descriptions:
        if (value := description.get(DATA_MINING)) is not None:
            yield value
        for element in description.findall(DATA_MINING):
            yield element.get(RDF + "resource") or element.text or ""


def _other_constraints(descriptions: list[Element]) -> str:
    """``plus:OtherConstraints`` as text: the x-default alternative, else the first one."""
    for description in descriptions:
        if (value := description.get(OTHER_CONSTRAINTS)) is not None:
            return value.strip()
        element = description.find(OTHER_CONSTRAINTS)
        if element is not None:
            items = element.findall(f"{RDF}Alt/{RDF}li")
            chosen = next((li for li in items if li.get(XML_LANG) == "x-default"), items[0] if items else element)
            return (chosen.text or "").strip()
    return ""


def _statement(raw: str, constraints: str, source: str) -> Statement:
    value = raw.strip()
    warnings = []
    if value.startswith(VOCAB):
        value = value[len(VOCAB) :]
    elif value in VALUES:
        warnings.append(f"plus:DataMining should be the vocabulary URI {VOCAB}{value}, not the bare code")
    if value not in VALUES:
        warnings.append(f"unknown plus:DataMining value {raw.strip()[:MAX_RAW_CHARS]!r}; nothing read from it")
        return make_statement({}, XMP_DATA_MINING, source, raw=raw, warnings=warnings)
    detail = ""
    if value in SEE_ELSEWHERE:
        detail = f"read as DMI-PROHIBITED; {SEE_ELSEWHERE[value]} is not evaluated"
        if value == "DMI-PROHIBITED-SEECONSTRAINT" and constraints:
            detail += f"; plus:OtherConstraints: {constraints[:MAX_RAW_CHARS]}"
    return make_statement(VALUES[value], XMP_DATA_MINING, source, raw=raw, warnings=warnings, detail=detail)
