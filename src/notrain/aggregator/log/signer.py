"""The log's own key: it signs checkpoints and receipts, never a publisher's manifest.

The key is an Ed25519 private JWK file (mode 0600, created on first start).  Its note verifier key
(``origin+keyid+base64``) is what peers, witnesses and clients configure to trust this log.
"""

from __future__ import annotations

from pathlib import Path

from ...core.keys import PrivateKey
from ...core.note import ED25519, NoteSigner
from ...keyfile import load_private_key, save_private_key


def load_log_signer(origin: str, key_path: Path, *, create: bool, kind: int = ED25519) -> NoteSigner:
    """The signer for ``origin``; with ``create``, a missing key file is generated first.  ``kind``: a
    witness's cosigner key (type 0x04) is loaded the same way, from its own file."""
    if create and not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        save_private_key(key_path, PrivateKey.generate())
    return NoteSigner(origin, load_private_key(key_path), kind)
