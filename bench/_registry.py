"""A loopback stand-in for the two checks filter_bench.py compares the dataset filter with (not part of the package).

* ``POST /api/v2/query/urls/``: answers as the Spawning registry does for datadiligence's bulk client
  (datadiligence/rules/spawning.py): the body is URLs one per line, the answer
  ``{"urls": [{"url": ..., "optOut": bool, "optIn": false}, ...]}`` in the same order.  A URL is opted
  out when it is in OPTED_OUT (the file of URLs given as argv[1], one per line): a set lookup, the least
  a registry can do, with no network, no rate limit and no database.
* ``GET /img/<anything>``: a 1 KiB body with ``X-Robots-Tag: noai`` on every 7th path (by the number in it),
  what datadiligence's XRobotsTagHeader and img2dataset read after downloading an image.

Run as ``python bench/_registry.py OPTED_OUT_FILE``; prints ``ready PORT`` once it listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp import web

BODY = bytes(1024)


def app(opted_out: set[str]) -> web.Application:
    async def query(request: web.Request) -> web.Response:
        urls = (await request.read()).decode("utf-8").split("\n")
        answer = {"urls": [{"url": u, "optOut": u in opted_out, "optIn": False} for u in urls]}
        return web.Response(body=json.dumps(answer).encode(), content_type="application/json")

    async def image(request: web.Request) -> web.Response:
        digits = "".join(c for c in request.match_info["rest"] if c.isdigit()) or "0"
        headers = {"X-Robots-Tag": "noai"} if int(digits) % 7 == 0 else {}
        return web.Response(body=BODY, content_type="image/jpeg", headers=headers)

    application = web.Application(client_max_size=64 << 20)
    application.add_routes([web.post("/api/v2/query/urls/", query), web.get("/img/{rest:.*}", image)])
    return application


def main() -> None:
    listing = Path(sys.argv[1])

    async def serve() -> None:
        runner = web.AppRunner(app(set(listing.read_text().splitlines())), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print("ready", site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
