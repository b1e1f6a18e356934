"""Background rounds: the crawler and the account checker each run one round per poll, forever."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def every(poll: float, round_: Callable[[], Awaitable[object]], log: logging.Logger, what: str) -> None:
    """Await ``round_()`` every ``poll`` seconds until cancelled; a failed round (a storage hiccup, say) is
    logged and the next one retries, so one fault never ends the background work."""
    while True:
        try:
            await round_()
        except Exception:
            log.exception("%s round failed", what)
        await asyncio.sleep(poll)
