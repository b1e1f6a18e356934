"""``notrain serve --demo``: an aggregator on a temporary data directory with an example artist loaded.

The example artist publishes as a ``did:key`` (no website) with a fresh key: every work of the example
portfolio (``examples/portfolio`` when run from a checkout, else three small pictures drawn here) by
SHA-256 and PDQ, and the name "Ada Example" — the same story as examples/publish.sh, but submitted to the
aggregator the way an artist without a site would.  Nothing is kept after the process ends.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from .. import imaging
from ..core import dsse
from ..core.keys import PrivateKey
from ..core.manifest import DEFAULT_PDQ_THRESHOLD, MANIFEST_TYPE, format_timestamp

ARTIST = "Ada Example"
PORTFOLIO = Path("examples/portfolio")
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}


def demo_envelopes(portfolio: Path | None = PORTFOLIO, now: datetime | None = None) -> list[bytes]:
    """Signed envelopes to load: the example artist's manifest."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    key = PrivateKey.generate()
    works = []
    for title, data in _pictures(portfolio):
        hashed = imaging.hash_bytes(data)
        work = {"sha256": hashed.sha256.hex(), "title": title}
        if hashed.reliable:
            work["pdq"] = hashed.pdq.hex()
        works.append(work)
    doc = {
        "notrain": 1,
        "publisher": key.public.did_key,
        "sequence": int(now.timestamp()),
        "issued": format_timestamp(now - timedelta(minutes=1)),
        "expires": format_timestamp(now + timedelta(days=365)),
        "default": {"train-ai": "n", "ai-use": "n"},
        "pdq": {"hasher": imaging.HASHER, "threshold": DEFAULT_PDQ_THRESHOLD},
        "works": works,
        "names": [{"name": ARTIST}],
    }
    return [dsse.sign(json.dumps(doc, indent=2).encode(), MANIFEST_TYPE, [key]).to_bytes()]


def _pictures(portfolio: Path | None) -> list[tuple[str, bytes]]:
    if portfolio is not None and portfolio.is_dir():
        files = sorted(p for p in portfolio.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
        if files:
            return [(p.relative_to(portfolio).as_posix(), p.read_bytes()) for p in files]
    return [(f"{name}.png", _draw(name)) for name in ("sunset", "rings", "stripes")]


def _draw(name: str) -> bytes:
    """A small deterministic picture with enough structure for a reliable PDQ hash."""
    image = Image.new("RGB", (192, 144), (240, 236, 228))
    draw = ImageDraw.Draw(image)
    if name == "sunset":
        for y in range(144):
            draw.line([(0, y), (192, y)], fill=(255 - y // 2, 120 + y // 2, 60 + (144 - y)))
        draw.ellipse((110, 40, 160, 90), fill=(255, 230, 120))
        draw.polygon([(0, 144), (0, 100), (50, 80), (100, 110), (150, 85), (192, 105), (192, 144)], fill=(40, 30, 60))
    elif name == "rings":
        for r in range(70, 0, -10):
            draw.ellipse((96 - r, 72 - r, 96 + r, 72 + r), outline=(20 + 3 * r, 40, 120), width=5)
    else:
        for x in range(0, 192, 16):
            draw.rectangle((x, 0, x + 7, 144), fill=(30, 90 + x // 2, 60))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
