"""The operator's act that ends a fork's quarantine: forget a peer's state (``notrain peer-reset``).

A forked peer stays refused whatever it serves next, because only a person can decide whether its new
history is one to follow (a restored backup, a new operator) or a lie.  Resetting forgets its state — the
stored checkpoint and progress — so the next round trusts its current checkpoint anew, as on first
contact; the evidence of the fork is kept.  It works on the storage directly, so a running aggregator
picks it up at its next round.
"""

from __future__ import annotations

from ...core.errors import NotrainError
from ..config import Config
from ..storage import PeerState, open_storage


async def reset_peer(config: Config, origin: str) -> PeerState:
    """Forget the stored state of the peer ``origin``; the state forgotten (``E_NOT_FOUND`` if none)."""
    storage = await open_storage(config.storage_url)
    try:
        forgotten = await storage.peer(origin)
        if forgotten is None:
            raise NotrainError(f"no state of a peer {origin!r} is stored", code="E_NOT_FOUND", where=origin)
        await storage.reset_peer(origin)
        return forgotten
    finally:
        await storage.close()
