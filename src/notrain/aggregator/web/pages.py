"""Rendering a page: one Jinja2 environment (autoescaped, strict) and the security headers of every page.

The policy allows the page's own stylesheet and form posts to itself, nothing else: no script can run
even if some publisher's text slipped through escaping, and no asset is loaded from the internet.
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from ...core.manifest import format_timestamp

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # pages show the log as it is now
}
STATIC = {  # path -> (file in static/, media type): the page's only assets, served from memory
    "/web/notrain.css": ("notrain.css", "text/css"),
    "/web/icon.svg": ("icon.svg", "image/svg+xml"),
}

_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("notrain.aggregator.web", "templates"),
    autoescape=True,  # every template is HTML; publishers' text is escaped wherever it lands
    undefined=jinja2.StrictUndefined,  # a misspelt name is an error in the tests, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)


def _link(path: str, **query: object) -> str:
    """A same-site link with its query encoded (publisher ids hold ':' and '/')."""
    return f"{path}?{urlencode(query)}" if query else path


_environment.globals.update(link=_link)
_environment.filters["time"] = lambda moment: format_timestamp(moment) if moment else "—"


def render(template: str, /, *, status: int = 200, **context: object) -> web.Response:
    """The template as an HTML response with the security headers."""
    html = _environment.get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


def error_page(status: int, title: str, message: str) -> web.Response:
    return render("error.html", status=status, title=title, message=message)


def static_handler(name: str, media_type: str):
    body = files("notrain.aggregator.web").joinpath("static", name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP}

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=media_type, headers=headers)

    return handler
