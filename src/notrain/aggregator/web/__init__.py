"""The aggregator's web page at ``/``: server-rendered HTML for people, answered from the same state as ``/v1``.

No JavaScript and nothing from another origin: every page works in a text browser and on a phone, and
the Content-Security-Policy forbids scripts outright.  Everything a publisher wrote (ids, names, titles,
URLs) is untrusted and reaches the page only through Jinja2's autoescaping.
"""

from .views import setup

__all__ = ["setup"]
