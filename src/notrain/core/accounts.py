"""Two-way account proofs (Keyoxide-style) for publishers.

A manifest lists accounts (a pixiv or Bluesky profile...) that belong to its
publisher; that is one direction, signed.  The other direction is the account
itself showing the publisher's proof token, ``notrain:<publisher id>``, in its
bio or a pinned post.  Only when both hold may a verifier treat the account's
uploads as the publisher's works.  Fetching the profile is the caller's job;
this module only decides whether fetched text carries the proof.
"""

from __future__ import annotations

import html
import re
import unicodedata

from .manifest import check_publisher

PROOF_PREFIX = "notrain:"
MAX_PROFILE_CHARS = 1024 * 1024


def proof_token(publisher: str) -> str:
    """The text an account shows to prove it belongs to ``publisher``."""
    return PROOF_PREFIX + check_publisher(publisher)


def has_proof(profile_text: str, publisher: str) -> bool:
    """Whether a profile's text shows the proof token for ``publisher``.

    HTML entities are decoded and NFC applied, since profile pages escape and
    re-encode bios.  The token must stand on its own: the characters around it
    must not continue an identifier (so a longer did:key that merely starts
    with the token does not count).
    """
    token = proof_token(publisher)
    text = unicodedata.normalize("NFC", html.unescape(profile_text[:MAX_PROFILE_CHARS]))
    # A full stop may end the sentence the token stands in, but not continue a host name.
    return re.search(r"(?<![\w:/.-])" + re.escape(token) + r"(?![\w:/-]|\.[\w-])", text) is not None
