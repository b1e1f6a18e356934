"""Crawl throughput with the notrain add-on on vs off, next to Scrapy's RobotsTxtMiddleware on vs off.

Run:  .venv/bin/python bench/crawl_bench.py      (about 4 minutes on 2 cores, no network)
      --rounds 5 --budget 900                     (about 10 minutes: steadier medians)
      --origins 50 --pages 100 --configs abcd --reactorless --profile

Sites: ``--origins`` origins on 127.0.0.1 (one port each), all served by ONE
aiohttp process that this script starts (``--serve``), so the server never
runs on the crawler's event loop or steals its core.  Each origin has a signed
notrain manifest valid now (Ed25519, DSSE) and its key set, a robots.txt
(``Disallow`` lines, AIPREF ``Content-Usage`` lines, a GPTBot/CCBot group), a
tdmrep.json, an ai.txt on one origin in five (404 elsewhere), and ``--pages``
HTML pages of 5-20 KB (a head with the usual metas, inline script and style,
article text, nav, footer and four "related" links to other pages of the same
origin), reached from a home page and six section hubs.  Some pages are opted
out, so the gate does real work (per origin, at 100 pages):

    /private/  4 pages  robots.txt Disallow                   refused before download (notrain; Scrapy's robots too)
    /ai/       4 pages  Content-Usage n, GPTBot Disallow      refused before download (notrain)
    /art/     12 pages  manifest path rule n, 1 origin in 3   refused before download (notrain)
    /news/    16 pages  tdmrep.json reservation, 1 in 3       downloaded, then dropped (notrain)
    /blog/    44 pages  4 with <meta robots noai>, 2 with a Content-Usage header: downloaded, dropped
    /shop/    20 pages  allowed (5 say noimageai and tdm-reservation 0)

Configurations, each a fresh crawler in this process with identical Scrapy
settings (the asyncio reactor, Scrapy's default, or ``--reactorless`` with
Scrapy's aiohttp handler): (a) plain, (b) the notrain add-on,
(c) ``ROBOTSTXT_OBEY = True``, (d) both.  The spider starts from every
origin's home page and follows every ``<a href>`` inside ``<main>`` (Scrapy's
dupefilter drops repeats).  Every page is linked from an allowed hub, so all
four crawls end with the same set of page requests.

Measure: pages *processed* per second of crawl wall time (crawler start to
close), where processed means a page request that reached a final outcome: its
response reached the spider, or it was refused before download, or dropped
after it (the errback counts those).  That count is the same in all four
configurations, so the ratio is a ratio of crawl times.  A refused page is
not left out: refusing it is the gate's work, and saving its download is part
of what the gate does.  Pages downloaded (counted by the server) and the time
per downloaded page are printed for context.  Policy fetches (manifest, key
set, robots.txt, tdmrep.json, ai.txt) are extra requests the gated crawls make,
and are in their time.

Rounds: a short warm-up round (6 origins), then up to ``--rounds`` rounds of
a, b, c, d (reversed every other round), at least 2, and no round started that
would end past ``--budget`` seconds.  Ratios are medians of per-round ratios
(see ``_harness.py``).

Goals: notrain on / off >= 0.97, and notrain on / off >= robots on / off.

``--profile``: after the rounds, one plain and one notrain crawl under
cProfile; prints notrain's share and its costliest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import hashlib
import json
import os
import pstats
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import _harness as h

POLICY_PATHS = frozenset(
    {"/robots.txt", "/ai.txt", "/.well-known/notrain.json", "/.well-known/notrain-keys.json", "/.well-known/tdmrep.json"}
)
SECTIONS = (("blog", 44), ("shop", 20), ("news", 16), ("art", 12), ("private", 4), ("ai", 4))
MIN_ROUNDS = 2
RELATED = 4  # "related" links per page, in <main> (the nav and footer links are on every page)
USER_AGENT = "BenchBot/1.0 (+https://notrain.invalid/bench)"
CONFIGS = {
    "a plain": {},
    "b notrain": {"ADDONS": {"notrain.scrapy.Addon": 0}},
    "c robots": {"ROBOTSTXT_OBEY": True},
    "d both": {"ADDONS": {"notrain.scrapy.Addon": 0}, "ROBOTSTXT_OBEY": True},
}
_TEXT = (
    "harbour lantern study brush canvas pigment sketch tide moth umbrella market corridor fox snow "
    "portrait ink charcoal gallery light shadow morning evening paper texture colour palette layer "
    "stroke frame window river bridge garden stone glass wool thread archive commission process draft "
    "final print edition series"
)
WORDS = _TEXT.split()


# --------------------------------------------------------------------------- the sites (server process)


def page_plan(pages: int) -> list[tuple[str, int]]:
    """(section, count) scaled to ``pages`` per origin (100 gives SECTIONS as written)."""
    return [(name, max(1, round(count * pages / 100))) for name, count in SECTIONS]


def page_paths(pages: int) -> dict[str, list[str]]:
    return {name: [f"/{name}/{name}-{k:03d}.html" for k in range(count)] for name, count in page_plan(pages)}


def _z(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _html(rng: random.Random, origin: str, path: str, title: str, links: list[str], extra_head: str, size: int) -> bytes:
    nav = " ".join(f'<a href="/s/{name}.html">{name.title()}</a>' for name, _ in SECTIONS)
    related = "".join(f'<li><a href="{link}">{link.rsplit("/", 1)[-1][:-5].replace("-", " ")}</a></li>' for link in links)
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title} | Studio {origin[-5:]}</title>\n"
        f'<meta name="description" content="{_words(rng, 18)}">\n'
        f'<meta property="og:title" content="{title}">\n<meta property="og:type" content="article">\n'
        f'<meta property="og:url" content="{origin}{path}">\n<link rel="canonical" href="{origin}{path}">\n'
        '<link rel="stylesheet" href="/static/site.css">\n<link rel="icon" href="/favicon.ico">\n'
        f"{extra_head}"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        "gtag('js',new Date());gtag('config','G-BENCH');</script>\n"
        "<style>body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem}nav a{margin-right:1em}"
        "article p{line-height:1.5}aside ul{list-style:none}</style>\n</head>\n"
    )
    body = [f'<body>\n<header><nav><a href="/">Home</a> {nav}</nav></header>\n<main><article>\n<h1>{title}</h1>\n']
    body.append(f'<p class="meta">Posted {rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}</p>\n')
    tail = (
        f"</article>\n<aside><h2>Related</h2><ul>{related}</ul></aside>\n</main>\n"
        f'<footer><p>&copy; Studio {origin[-5:]}. <a href="/s/shop.html">Shop</a></p></footer>\n</body>\n</html>\n'
    )
    length = len(head) + len(body[0]) + len(body[1]) + len(tail)
    while length < size:
        para = f"<p>{_words(rng, rng.randint(40, 120))}.</p>\n"
        if rng.random() < 0.2:
            para = f'<figure><img src="/img/{rng.randint(1, 999)}.jpg" alt="{_words(rng, 4)}"></figure>\n' + para
        body.append(para)
        length += len(para)
    return (head + "".join(body) + tail).encode()


def build_origin(i: int, origin: str, pages: int, key) -> dict[str, tuple[int, bytes, dict[str, str]]]:
    """Every route of origin number ``i``: path -> (status, body, headers)."""
    from notrain.core import MANIFEST_TYPE, dsse, make_keyset
    from notrain.core.ijson import dumps

    rng = random.Random(f"crawl-bench-{i}")
    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
    html = {"Content-Type": "text/html; charset=utf-8"}
    now = datetime.now(UTC)
    art_opt_out = i % 3 == 0
    news_reserved = i % 3 == 1

    paths = [{"pattern": "/art/", "prefs": {"train-ai": "n"}}] if art_opt_out else []
    paths.append({"pattern": "/shop/*.psd$", "prefs": {"train-ai": "n"}})
    works = [
        {"sha256": hashlib.sha256(f"{i}-{w}".encode()).hexdigest(), "title": f"{_words(rng, 3).title()} #{w}"} for w in range(6)
    ]
    doc = {
        "notrain": 1,
        "publisher": origin,
        "sequence": 3,
        "issued": _z(now - timedelta(days=1)),
        "expires": _z(now + timedelta(days=30)),
        "default": {"train-ai": "y", "ai-use": "y", "search": "y"},
        "paths": paths,
        "works": works,
    }
    routes["/.well-known/notrain.json"] = (
        200,
        dsse.sign(json.dumps(doc).encode(), MANIFEST_TYPE, [key]).to_bytes(),
        {"Content-Type": "application/json"},
    )
    routes["/.well-known/notrain-keys.json"] = (
        200,
        dumps(make_keyset(origin, [key.public]).to_json()),
        {"Content-Type": "application/json"},
    )
    robots = (
        "# robots.txt\nUser-agent: *\nDisallow: /private/\nDisallow: /cart\nDisallow: /*?sessionid=\n"
        "Content-Usage: train-ai=y\nContent-Usage: /ai/ train-ai=n\n\n"
        "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /ai/\nDisallow: /private/\n\n"
        "User-agent: AhrefsBot\nUser-agent: SemrushBot\nDisallow: /\n\n"
        f"Sitemap: {origin}/sitemap.xml\n"
    )
    routes["/robots.txt"] = (200, robots.encode(), {"Content-Type": "text/plain"})
    tdm = [{"location": "/news/*", "tdm-reservation": 1, "tdm-policy": f"{origin}/tdm-policy.json"}] if news_reserved else []
    tdm.append({"location": "/*", "tdm-reservation": 0})
    routes["/.well-known/tdmrep.json"] = (200, json.dumps(tdm).encode(), {"Content-Type": "application/json"})
    if i % 5 == 0:
        routes["/ai.txt"] = (
            200,
            b"# Spawning ai.txt\nUser-Agent: *\nDisallow: *.psd\nDisallow: *.kra\n",
            {"Content-Type": "text/plain"},
        )

    sections = page_paths(pages)
    every = [p for ps in sections.values() for p in ps]
    routes["/"] = (
        200,
        _html(rng, origin, "/", "Home", [f"/s/{s}.html" for s in sections] + sections["blog"][:8], "", 9000),
        html,
    )
    for name, ps in sections.items():
        routes[f"/s/{name}.html"] = (200, _html(rng, origin, f"/s/{name}.html", name.title(), ps, "", 6000), html)
    for name, ps in sections.items():
        for k, path in enumerate(ps):
            extra, headers = "", html
            if name == "blog" and k % 11 == 5:
                extra = '<meta name="robots" content="noai, noimageai">\n'
            elif name == "blog" and k % 22 == 8:
                headers = {**html, "Content-Usage": "train-ai=n"}
            elif name == "shop" and k % 4 == 1:
                extra = '<meta name="robots" content="noimageai">\n<meta name="tdm-reservation" content="0">\n'
            links = rng.sample(every, RELATED)
            size = rng.randint(5000, 20000)
            routes[path] = (200, _html(rng, origin, path, f"{name.title()} {k}: {_words(rng, 3)}", links, extra, size), headers)
    return routes


async def serve(origins: int, pages: int) -> None:
    """The server process: bind, build, print the ports, serve until stdin closes."""
    from aiohttp import web

    from notrain.core import PrivateKey

    loop = asyncio.get_running_loop()
    sockets = []
    for _ in range(origins + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.setblocking(False)
        sockets.append(sock)
    control, sites = sockets[0], sockets[1:]
    hits = {"page": 0, "policy": 0, "missing": 0}
    not_found = (404, b"not found", {"Content-Type": "text/plain"})
    key = PrivateKey.from_seed(hashlib.sha256(b"notrain crawl bench").digest())
    total = 0

    def handler_for(routes):
        async def handle(request: web.BaseRequest) -> web.Response:
            path = request.path
            route = routes.get(path)
            hits["policy" if path in POLICY_PATHS else "page" if route is not None else "missing"] += 1
            if route is None:
                route = not_found
            return web.Response(status=route[0], body=route[1], headers=route[2])

        return handle

    async def stats(request: web.BaseRequest) -> web.Response:
        body = json.dumps({**hits, "cpu": time.process_time()})
        for k in hits:
            hits[k] = 0
        return web.Response(text=body, content_type="application/json")

    for i, sock in enumerate(sites):
        origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
        routes = build_origin(i, origin, pages, key)
        total += sum(1 for p in routes if p not in POLICY_PATHS)
        await loop.create_server(web.Server(handler_for(routes), access_log=None), sock=sock, backlog=1024)
    await loop.create_server(web.Server(stats, access_log=None), sock=control, backlog=16)
    print(
        json.dumps({"control": control.getsockname()[1], "ports": [s.getsockname()[1] for s in sites], "urls": total}), flush=True
    )
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


class Servers:
    """The site server as a child process (a separate core, not the crawler's event loop)."""

    def __init__(self, origins: int, pages: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--origins", str(origins), "--pages", str(pages)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        hello = json.loads(self.proc.stdout.readline())
        self.control = hello["control"]
        self.origins = [f"http://127.0.0.1:{port}" for port in hello["ports"]]
        self.urls_per_origin = hello["urls"] // len(self.origins)

    def hits(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control}/", timeout=10) as response:
            return json.loads(response.read())

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --------------------------------------------------------------------------- the crawler (this process)


def make_spider():
    import scrapy
    from scrapy.exceptions import IgnoreRequest

    from notrain.scrapy import Forbidden

    class Crawl(scrapy.Spider):
        name = "crawl_bench"

        def __init__(self, origins=(), **kwargs):
            super().__init__(**kwargs)
            self.origins = list(origins)
            self.outcomes = {
                "parsed": 0,
                "forbidden_before_download": 0,
                "dropped_after_download": 0,
                "robots.txt": 0,
                "error": 0,
            }

        async def start(self):
            for origin in self.origins:
                yield scrapy.Request(origin + "/", errback=self.failed)

        def parse(self, response):
            self.outcomes["parsed"] += 1
            for href in response.css("main a::attr(href)").getall():
                yield response.follow(href, callback=self.parse, errback=self.failed)

        def failed(self, failure):
            error = failure.value
            if isinstance(error, Forbidden):
                self.outcomes[error.stage] += 1
            elif isinstance(error, IgnoreRequest):
                self.outcomes["robots.txt"] += 1  # RobotsTxtMiddleware's refusal
            else:
                self.outcomes["error"] += 1

    return Crawl


def settings_for(config: str, workdir: str, reactorless: bool) -> dict:
    settings = {
        "CONCURRENT_REQUESTS": 128,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "USER_AGENT": USER_AGENT,
        "NOTRAIN_REPORT_PATH": os.path.join(workdir, "notrain-report.json"),
        "NOTRAIN_ALLOW_LOOPBACK": True,  # the sites are on 127.0.0.1, which the SSRF guard refuses by default
        **CONFIGS[config],
    }
    if reactorless:
        settings["TWISTED_REACTOR_ENABLED"] = False
        handler = "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler"
        settings["DOWNLOAD_HANDLERS"] = {"ftp": None, "http": handler, "https": handler}
    return settings


async def crawl_once(
    config: str, origins: list[str], servers: Servers, workdir: str, reactorless: bool, profiler: cProfile.Profile | None = None
) -> dict:
    from scrapy.crawler import AsyncCrawlerRunner

    runner = AsyncCrawlerRunner(settings_for(config, workdir, reactorless))
    crawler = runner.create_crawler(make_spider())
    server_cpu = servers.hits()["cpu"]  # and reset the servers' counters
    gc.collect()
    if profiler:
        profiler.enable()
    cpu, start = time.process_time(), time.perf_counter()
    await runner.crawl(crawler, origins=origins)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if profiler:
        profiler.disable()
    outcomes = dict(crawler.spider.outcomes)
    outcomes["processed"] = sum(outcomes.values()) - outcomes["error"]
    stats = crawler.stats.get_stats()
    hits = servers.hits()
    hits["cpu"] -= server_cpu
    return {
        "seconds": elapsed,
        "cpu": cpu,
        **outcomes,
        **{f"server_{k}": v for k, v in hits.items()},
        "notrain_policy_requests": stats.get("notrain/request_count", 0),
        "errors": outcomes["error"],
    }


async def bench(args: argparse.Namespace) -> int:
    from scrapy.utils.log import configure_logging

    configure_logging({"LOG_LEVEL": "WARNING"})
    began = time.perf_counter()
    servers = Servers(args.origins, args.pages)
    scratch = tempfile.TemporaryDirectory(prefix="notrain-crawl-bench-")  # the add-on's compliance reports
    workdir = scratch.name
    try:
        origins = servers.origins
        expected = len(origins) * servers.urls_per_origin
        print(
            f"crawl_bench: {len(origins)} origins x {servers.urls_per_origin} pages = {expected} page URLs; "
            f"up to {args.rounds} rounds within {args.budget:.0f} s; {'reactorless (aiohttp handler)' if args.reactorless else 'asyncio reactor (HTTP11 handler)'}"
        )
        print(h.machine(), "| scrapy", __import__("scrapy").__version__, "| load average", os.getloadavg()[0])
        names = [name for name in CONFIGS if name[0] in args.configs]
        for name in names:  # warm-up: imports, first-use caches, server sockets
            await crawl_once(name, origins[:6], servers, workdir, args.reactorless)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for r in range(args.rounds):
            round_start = time.perf_counter()
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                run = await crawl_once(name, origins, servers, workdir, args.reactorless)
                runs[name].append(run)
                print(
                    f"  round {r + 1} {name:10} {run['seconds']:6.2f} s  {run['processed'] / run['seconds']:6.1f} pages/s"
                    f"  downloaded {run['server_page']}  CPU: crawler {run['cpu']:.1f} s, server {run['server_cpu']:.1f} s",
                    flush=True,
                )
            spent, last = time.perf_counter() - began, time.perf_counter() - round_start
            if r + 1 >= MIN_ROUNDS and r + 1 < args.rounds and spent + last > args.budget:
                print(f"  stopping after {r + 1} rounds: another would end past the {args.budget:.0f} s budget")
                break

        rate = {name: [run["processed"] / run["seconds"] for run in runs[name]] for name in names}
        per_download = {name: [run["seconds"] / max(1, run["server_page"]) for run in runs[name]] for name in names}
        med = lambda name, key: h.median([run[key] for run in runs[name]])
        rows = []
        for name in names:
            last = runs[name][-1]  # the counts are the same every round
            rows.append(
                [
                    name,
                    f"{h.median(rate[name]):.1f}",
                    noise(rate[name]),
                    f"{med(name, 'seconds'):.2f}",
                    f"{med(name, 'cpu'):.2f}",
                    f"{med(name, 'server_cpu'):.2f}",
                    str(last["processed"]),
                    str(last["server_page"]),
                    str(last["parsed"]),
                    str(last["forbidden_before_download"] + last["robots.txt"]),
                    str(last["dropped_after_download"]),
                    str(last["server_policy"]),
                    f"{h.median(per_download[name]) * 1e3:.2f}",
                ]
            )
        print()
        print(
            h.table(
                [
                    "config",
                    "processed/s",
                    "noise",
                    "crawl s",
                    "crawler CPU s",
                    "server CPU s",
                    "processed",
                    "downloaded",
                    "parsed",
                    "refused",
                    "dropped",
                    "policy GETs",
                    "ms/downloaded",
                ],
                rows,
            )
        )
        bad = [
            (name, run["processed"], run["errors"])
            for name in names
            for run in runs[name]
            if run["processed"] != expected or run["errors"]
        ]
        if bad:
            print(f"WARNING: runs that did not process all {expected} page URLs, or had errors: {bad}")

        ratio = lambda sub, base: h.paired_ratio(rate[sub], rate[base]) if sub in rate and base in rate else float("nan")
        notrain, robots, both = ratio("b notrain", "a plain"), ratio("c robots", "a plain"), ratio("d both", "c robots")
        print()
        print(
            f"processed/s ratios (median of per-round ratios, {len(runs[names[0]])} rounds): "
            f"notrain on/off (b/a) {notrain:.3f}; robots on/off (c/a) {robots:.3f}; "
            f"notrain on/off with robots on (d/c) {both:.3f}"
        )
        cpu = {name: [run["cpu"] for run in runs[name]] for name in names}
        cpu_ratio = lambda sub, base: h.paired_ratio(cpu[base], cpu[sub]) if sub in cpu and base in cpu else float("nan")
        print(
            "context, not a goal: the same ratios from the crawler's own CPU time (base CPU / subject CPU; "
            "what other jobs' load cannot stretch): "
            f"b/a {cpu_ratio('b notrain', 'a plain'):.3f}; c/a {cpu_ratio('c robots', 'a plain'):.3f}; "
            f"d/c {cpu_ratio('d both', 'c robots'):.3f}"
        )
        if "a plain" in rate and "b notrain" in rate:
            per_page = h.paired_ratio(per_download["a plain"], per_download["b notrain"])
            print(
                f"context, not a goal: per *downloaded* page, plain/notrain = {per_page:.3f} "
                "(the gate's cost with its refusals' savings taken out)"
            )
        if args.profile:
            await profile(origins, servers, workdir, args.reactorless)
        print(f"total {time.perf_counter() - began:.0f} s")
        if len(names) < len(CONFIGS):
            print(f"GOALS: not judged (only --configs {args.configs} ran)")
            return 0
        ok1, ok2 = notrain >= 0.97, notrain >= robots
        print(
            f"GOALS: notrain on/off >= 0.97: {h.verdict(ok1)} ({notrain:.3f}); "
            f"notrain on/off >= robots on/off: {h.verdict(ok2)} ({notrain:.3f} vs {robots:.3f})"
        )
        return 0
    finally:
        servers.close()
        scratch.cleanup()


def noise(values: list[float]) -> str:
    """The harness's half inter-quartile range from 4 rounds up; below that, the half range."""
    if len(values) >= 4:
        return h.spread(values)
    return f"±{(max(values) - min(values)) / 2 / h.median(values) * 100:.0f}%" if len(values) > 1 else "-"


async def profile(origins: list[str], servers: Servers, workdir: str, reactorless: bool) -> None:
    """One plain and one notrain crawl under cProfile: where the extra time goes."""
    found = {}
    for name in ("a plain", "b notrain"):
        profiler = cProfile.Profile()
        run = await crawl_once(name, origins, servers, workdir, reactorless, profiler)
        found[name] = (pstats.Stats(profiler), run)
    for name, (stats, run) in found.items():
        print(f"\nprofile, {name}: {run['seconds']:.2f} s under cProfile, {stats.total_tt:.2f} s of profiled CPU")
    stats = found["b notrain"][0]
    entry = {func: value[3] for (file, _, func), value in stats.stats.items() if file.endswith("notrain/scrapy/middleware.py")}
    gate = entry.get("process_request", 0) + entry.get("process_response", 0)
    print(
        f"notrain's process_request + process_response: {gate:.2f} s cumulative, "
        f"{gate / stats.total_tt * 100:.0f}% of the notrain crawl's profiled CPU"
    )
    print("\nnotrain crawl, notrain's (and BeautifulSoup's) functions by cumulative time:")
    entries = [(key, value) for key, value in stats.stats.items() if "notrain" in key[0] or "bs4" in key[0]]
    entries.sort(key=lambda kv: kv[1][3], reverse=True)
    for (file, line, func), (cc, nc, tt, ct, _) in entries[:25]:
        short = file.split("site-packages/")[-1].split("src/")[-1]
        print(f"  {ct:7.3f} s cum  {tt:7.3f} s own  {nc:7d} calls  {short}:{line} {func}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--origins", type=int, default=50)
    parser.add_argument("--pages", type=int, default=100, help="leaf pages per origin (plus 7 hubs)")
    parser.add_argument("--rounds", type=int, default=3, help="at most this many rounds (at least 2)...")
    parser.add_argument("--budget", type=float, default=240, help="...and no round started that would end past this many seconds")
    parser.add_argument("--reactorless", action="store_true", help="no Twisted reactor: asyncio + the aiohttp handler")
    parser.add_argument("--configs", default="abcd", help="which of a b c d to run (the goals need all four)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.origins, args.pages))
        return 0
    if args.reactorless:
        return asyncio.run(bench(args))
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor

    result: list[int] = []

    def done(value):
        result.append(value)
        reactor.stop()

    def failed(failure):
        failure.printTraceback()
        result.append(1)
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.Deferred.fromFuture(asyncio.ensure_future(bench(args))).addCallbacks(done, failed))
    reactor.run()
    return result[0] if result else 1


if __name__ == "__main__":
    sys.exit(main())
