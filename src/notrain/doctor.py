"""``notrain doctor URL``: what a crawler sees for one URL, explained to its publisher.

It fetches the page and its origin's site-level files exactly as a crawler
using notrain would (the same :class:`~notrain.fetch.site.SiteFetcher`), lists
every statement found with where it came from, shows the decision per
purpose with the statements behind it, and turns what it noticed into advice:
a manifest that fails to verify (which opts the whole origin out of
everything until fixed), parser warnings (an uppercase ``Content-Usage`` key
voids the whole field), signals that disagree, inferences that the site's
explicit statements overrule (a GPTBot block read as ``train-ai=n`` where the
site said ``train-ai=y``: both are shown), mechanisms few crawlers read, and
a CDN in front of the site that may strip preference headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .core.decision import FAIL_CLOSED, Decision, Statement, decide
from .core.vocab import CATEGORIES, State
from .fetch.http import Fetched, Transport
from .fetch.manifests import Status
from .fetch.site import SiteFetcher, SiteSignals, page_statements
from .signals.base import AI_TXT
from .signals.headers import discovered_manifest_links
from .signals.crawlers import AI_CRAWLERS, TRAINING

MAX_PAGE_BYTES = 8 * 1024 * 1024
DEFAULT_TOKEN = "notrain"
# Response headers that show a CDN or caching proxy answered.
_CDN_HEADERS = ("via", "cf-ray", "x-cache", "x-served-by", "x-amz-cf-id", "x-fastly-request-id", "x-akamai-transformed")
_PREFERENCE_HEADERS = ("content-usage", "x-robots-tag", "tdm-reservation", "content-signal")


@dataclass
class Diagnosis:
    url: str
    token: str
    page: Fetched
    site: SiteSignals
    statements: list[Statement]
    decision: Decision
    crawl: dict[str, bool]  # product token -> may it fetch the URL
    advice: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        manifest = self.site.manifest
        return {
            "url": self.url,
            "token": self.token,
            "page": {"status": self.page.status, "final_url": self.page.final_url, "failure": self.page.failure},
            "manifest": {
                "status": manifest.status.value,
                "source": manifest.source,
                "error": manifest.error,
                "stale": manifest.stale,
                **(
                    {"publisher": manifest.manifest.publisher, "sequence": manifest.manifest.sequence, "digest": manifest.manifest.digest}
                    if manifest.manifest
                    else {}
                ),
            },
            "robots": self.site.files.robots.status,
            "crawl": self.crawl,
            "statements": [s.to_json() for s in self.statements],
            "decision": self.decision.to_json(),
            "advice": self.advice,
        }


async def diagnose(url: str, client: Transport, *, token: str = DEFAULT_TOKEN, fetcher: SiteFetcher | None = None) -> Diagnosis:
    fetcher = fetcher or SiteFetcher(client)
    page = await client.get(url, max_bytes=MAX_PAGE_BYTES, truncate=True)
    site = await fetcher.site(url)
    statements, html = _statements(site, url, token, page)
    links = [*(html.manifest_links if html else ()), *discovered_manifest_links(page.headers, url)]
    if site.manifest.status is Status.ABSENT and links:  # as a crawler would: follow the page's rel="notrain"
        site = SiteSignals(await fetcher.manifests.discovered(site.origin, links[0]), site.files)
        statements, html = _statements(site, url, token, page)
    crawl = {token: site.can_fetch(url, token)}
    crawl.update((c.token, site.can_fetch(url, c.token)) for c in AI_CRAWLERS if c.purpose == TRAINING)
    diagnosis = Diagnosis(url, token, page, site, statements, decide(statements), crawl)
    diagnosis.advice = _advise(diagnosis, links)
    return diagnosis


def _statements(site: SiteSignals, url: str, token: str, page: Fetched):
    body = page.body if page.ok else None
    return page_statements(site, url, token, headers=page.headers, body=body, content_type=page.header("content-type"))


def _advise(d: Diagnosis, links: list[str]) -> list[str]:
    advice: list[str] = []
    manifest = d.site.manifest
    if d.page.failure or (d.page.status is not None and d.page.status >= 400):
        advice.append(f"the page itself could not be read ({d.page.failure or f'HTTP {d.page.status}'}): only site-level signals are shown")
    if manifest.status is Status.FAILED:
        advice.append(
            f"your notrain manifest at {manifest.source} is refused: {manifest.error}. Until it verifies, crawlers that "
            "honour notrain treat the whole origin as opted out of every use (fail-closed) — fix it or remove it"
        )
    elif manifest.stale:
        advice.append(f"your manifest could not be refreshed ({manifest.error}); crawlers keep the last good one until it expires")
    elif manifest.status is Status.ABSENT:
        advice.append("no notrain manifest: only legacy signals apply, and none of them is signed or follows your work when reposted")
    if manifest.manifest is not None and links and manifest.source == links[0]:
        advice.append(
            "your manifest was found through this page's rel=\"notrain\" link; crawlers look at "
            "/.well-known/notrain.json first: publish it there too"
        )
    if manifest.status is Status.VERIFIED and (days := (manifest.manifest.expires - datetime.now(timezone.utc)).days) < 30:  # type: ignore[union-attr]
        advice.append(f"your manifest expires in {max(days, 0)} days: sign a new one with a higher sequence")
    for warning in dict.fromkeys(_all_warnings(d)):
        advice.append(warning)
    if any(s.evidence.mechanism == AI_TXT for s in d.statements):
        advice.append("ai.txt is read by few crawlers: say the same in robots.txt Content-Usage or your notrain manifest")
    advice.extend(_disagreements(d))
    advice.extend(_overruled(d))
    advice.extend(_cdn(d))
    blocked = [token for token, allowed in d.crawl.items() if not allowed and token != d.token]
    if blocked and len(blocked) < len(d.crawl) - 1:
        allowed = [t for t, ok in d.crawl.items() if ok and t != d.token]
        advice.append(f"robots.txt blocks some AI training crawlers ({', '.join(blocked[:5])}) but not others ({', '.join(allowed[:5])})")
    return advice


def _all_warnings(d: Diagnosis):
    yield from (f"robots.txt: {w}" for w in d.site.files.robots.warnings)
    yield from d.site.files.warnings
    for statement in d.statements:
        for warning in statement.evidence.warnings:
            if statement.evidence.mechanism != AI_TXT:
                yield f"{statement.evidence.mechanism}: {warning}"


def _disagreements(d: Diagnosis) -> list[str]:
    """Explicit statements (or, where none spoke, inferences) that say yes and no about one category."""
    found = []
    for category in CATEGORIES:
        overruled = d.decision.outcomes[category].overruled
        said = [s for s in d.statements if s.evidence.mechanism != FAIL_CLOSED and s not in overruled]  # fail-closed: explained on its own
        yes = [s.evidence.mechanism for s in said if s.prefs.get(category) is State.ALLOWED]
        no = [s.evidence.mechanism for s in said if s.prefs.get(category) is State.DISALLOWED]
        if yes and no:
            found.append(
                f"signals disagree on {category}: {_says(no, 'no')}, {_says(yes, 'yes')}; "
                "the most restrictive wins, so it is disallowed"
            )
    return found


def _overruled(d: Diagnosis) -> list[str]:
    """Inferences set aside because the site stated the category explicitly: show both sides."""
    found = []
    for category in CATEGORIES:
        outcome = d.decision.outcomes[category]
        if not outcome.overruled:
            continue
        mechanisms = ", ".join(sorted({s.evidence.mechanism for s in outcome.overruled}))
        rules = "; ".join(s.evidence.rule or s.evidence.source for s in outcome.overruled[:3])
        more = f" and {len(outcome.overruled) - 3} more" if len(outcome.overruled) > 3 else ""
        inferred = f"{mechanisms} ({rules}{more})"
        explicit = ", ".join(sorted({s.evidence.mechanism for s in outcome.because}))
        found.append(
            f"{inferred} would mean {category}={_letter(outcome.overruled[0].prefs[category])} by inference, but "
            f"{explicit} state{'s' if ',' not in explicit else ''} {category} explicitly for this URL, and an explicit "
            f"statement overrules an inference: {category} is {outcome.state.value}"
        )
    return found


def _letter(state: State) -> str:
    return "y" if state is State.ALLOWED else "n"


def _says(mechanisms: list[str], answer: str) -> str:
    names = sorted(set(mechanisms))
    return f"{', '.join(names)} say{'' if len(names) > 1 else 's'} {answer}"


def _cdn(d: Diagnosis) -> list[str]:
    names = {k.lower() for k, _ in d.page.headers}
    cdn = [h for h in _CDN_HEADERS if h in names] + (["server: cloudflare"] if (d.page.header("server") or "").lower() == "cloudflare" else [])
    if not cdn or any(h in names for h in _PREFERENCE_HEADERS):
        return []
    return [
        f"this response came through a CDN or cache ({', '.join(cdn)}) and carries no preference header "
        "(Content-Usage, X-Robots-Tag, tdm-reservation): if your origin server sends them, the CDN strips them"
    ]


def render(d: Diagnosis) -> str:
    """The human report."""
    lines = [f"notrain doctor: {d.url}  (as crawler token {d.token!r})", ""]
    manifest = d.site.manifest
    lines.append(f"manifest    {manifest.status.value}{' (stale)' if manifest.stale else ''}  {manifest.source}")
    if manifest.manifest:
        m = manifest.manifest
        lines.append(f"            publisher {m.publisher}, sequence {m.sequence}, sha256 {m.digest[:16]}…")
    if manifest.error:
        lines.append(f"            {manifest.error}")
    lines.append(f"robots.txt  {d.site.files.robots.status}")
    crawlers = [(token, ok) for token, ok in d.crawl.items() if token != d.token]
    blocked = [token for token, ok in crawlers if not ok]
    lines.append(
        f"crawl       {d.token} {'yes' if d.crawl.get(d.token) else 'NO'}; AI training crawlers: "
        + (f"NO for {', '.join(blocked)}" if blocked else "none blocked")
        + f" ({len(crawlers) - len(blocked)} of {len(crawlers)} may crawl)"
    )
    lines += ["", "signals found:"]
    if not d.statements:
        lines.append("  (none)")
    for s in d.statements:
        prefs = ", ".join(f"{c}={_letter(v)}" for c, v in s.prefs.items()) or "(no preference)"
        where = " ".join(x for x in (s.evidence.rule, s.evidence.detail) if x)
        kind = " (inferred)" if s.inferred else ""
        lines.append(f"  {s.evidence.mechanism + kind:39} {prefs:40} {s.evidence.source}  {where}")
    lines += ["", "decision:"]
    for category in CATEGORIES:
        outcome = d.decision.outcomes[category]
        verdict = "allowed" if d.decision.allowed(category) else "DISALLOWED"
        why = ", ".join(sorted({s.evidence.mechanism for s in outcome.because})) or "nobody said (unknown → policy)"
        if outcome.overruled:
            why += "; overruled inference: " + ", ".join(sorted({s.evidence.rule or s.evidence.mechanism for s in outcome.overruled}))
        lines.append(f"  {category:9} {verdict:11} ({outcome.state.value}; {why})")
    if d.advice:
        lines += ["", "advice:"]
        lines += [f"  - {a}" for a in d.advice]
    return "\n".join(lines)
